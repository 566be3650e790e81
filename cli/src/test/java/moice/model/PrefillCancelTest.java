package moice.model;

import moice.attention.AttentionVariant;
import moice.io.gguf.GgufModelTest;
import moice.load.LoadedModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cancelling a chunked prefill ({@link DecodeBatcher#prefill} with a cancel test, and
 * {@link InferenceSession.Single#cancelWhen}): no chunk runs once the test says so, the cache holds exactly the chunks
 * that ran, and a sequence truncated back to its start runs the prompt to the same logits as one never cancelled.
 */
class PrefillCancelTest {
    @TempDir
    Path tmp;

    @Test
    void noChunkRunsAfterTheCancelAndTheSequenceCanStartOver() {
        Path gguf = tmp.resolve("llama-gqa.gguf");
        GgufModelTest.writeLlamaGguf(GgufModelTest.HF, gguf);
        try (LoadedModel m = LoadedModel.open(gguf)) {
            Model model = m.model();
            int vocab = model.config().vocabSize();
            int[] prompt = new Random(3).ints(20, 0, vocab).toArray();
            AttentionVariant vanilla = model.vanilla();
            DecodeBatcher batcher = new DecodeBatcher(model, 4);
            try {
                KVCache cache = model.newCache(32);
                AttentionVariant.State state = vanilla.newState();
                AtomicInteger asked = new AtomicInteger();
                // answers true at the fourth question: three chunks of 3 tokens run, then none
                CancellationException e = assertThrows(CancellationException.class, () -> batcher.prefill(prompt, 3,
                        cache, vanilla, state, 1, () -> asked.incrementAndGet() > 3));
                assertTrue(e.getMessage().contains("after 9 of 20 tokens"), e.getMessage());
                assertEquals(9, cache.size(), "the chunks that ran stay in the cache");
                assertEquals(4, asked.get(), "asked once per chunk, and no more after the cancel");

                // the same sequence through an InferenceSession: cancelled before anything runs, then not
                var single = (InferenceSession.Single) InferenceSession.factory(model, vanilla).open(32);
                single.decodeWith(batcher, 3);
                boolean[] cancel = {true};
                single.cancelWhen(() -> cancel[0]);
                assertThrows(CancellationException.class, () -> single.forward(prompt, 1));
                assertEquals(0, single.size());
                cancel[0] = false;
                float[] logits = single.forward(prompt, 1);
                float[] fresh = batcher.prefill(prompt, 3, model.newCache(32), vanilla, vanilla.newState(), 1);
                assertArrayEquals(fresh, logits, "same chunks, same logits");
                assertEquals(vocab, logits.length);
            } finally {
                batcher.close();
            }
        }
    }
}
