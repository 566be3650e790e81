package moice.api;

import moice.Bounds;
import moice.attention.Routers;
import moice.cli.TinyChatModel;
import moice.io.RouterFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Chunked prefill ({@link SessionOptions#prefillChunk()}): a prompt run on the decode batcher's scheduler in chunks
 * gives the logits of the one-shot prefill within rounding ({@link Bounds#forwardPass}: other block boundaries change
 * only the order of float sums), for vanilla and MoICE; Ms-PoE, whose head ranking needs the whole first block, runs
 * its prompt as one chunk and so gives the very same bits. The engine's counters show how many chunks ran.
 */
class ChunkedPrefillTest {
    static final int CHUNK = 64, PROMPT = 700;

    @TempDir
    Path tmp;

    @Test
    void chunkedPrefillGivesTheOneShotLogits() throws IOException {
        // 4 layers: Ms-PoE changes layers 2 and up; a context long enough for several chunks and model blocks
        try (Engine engine = Moice.load(TinyChatModel.write(tmp.resolve("tiny"), 4, 2048))) {
            var c = engine.config();
            double[] bases = {c.ropeTheta(), 2 * c.ropeTheta(), 5 * c.ropeTheta()};
            Path r = tmp.resolve("r.safetensors");
            RouterFile.write(Routers.random(bases, 2, c.headDim(), c.numLayers(), 0.5, 1), r);
            int[] ids = new int[PROMPT];
            Random rnd = new Random(11);
            for (int i = 0; i < PROMPT; i++) ids[i] = 3 + rnd.nextInt(c.vocabSize() - 3);
            SessionOptions chunked = SessionOptions.DEFAULT.withBatchedDecode().withPrefillChunk(CHUNK);
            double bound = Bounds.forwardPass(c, PROMPT);
            for (String spec : new String[]{"vanilla", "moice:" + r, "mspoe"}) {
                var method = engine.method(spec);
                float[] whole = engine.session(method).forward(ids).values();
                long before = engine.decodeBatchCounts()[2];
                float[] pieces = engine.session(method, chunked).forward(ids).values();
                long chunks = engine.decodeBatchCounts()[2] - before;
                if (spec.equals("mspoe")) {
                    assertEquals(1, chunks, "Ms-PoE prefills its prompt whole");
                    Bounds.assertSameBits(whole, pieces, spec);
                } else {
                    assertEquals((PROMPT + CHUNK - 1) / CHUNK, chunks, spec + ": chunks of " + CHUNK);
                    Bounds.assertWithin(whole, pieces, bound, spec + " chunked prefill");
                }
            }
        }
    }
}
