package moice.model;

import moice.Bounds;
import moice.io.TokenIds;
import moice.load.LoadedModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Decoding token by token (and prefilling in uneven chunks) gives the logits of one prefill of the whole sequence. */
class IncrementalDecodeTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "qwen2-bias-tied", "llama-yarn-rope"})
    void stepByStepEqualsPrefill(String name) {
        Path dir = HfLogitsTest.MODELS.resolve(name);
        int[] ids = TokenIds.read(dir.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(dir)) {
            Model model = m.model();
            int vocab = m.config().vocabSize();
            float[] full = model.forward(ids, model.newCache(ids.length), model.vanilla(), ids.length);

            KVCache cache = model.newCache(ids.length);
            var attention = model.vanilla();
            int split = ids.length / 3;
            double bound = Bounds.forwardPass(m.config(), ids.length);
            float[] first = model.forward(java.util.Arrays.copyOf(ids, split), cache, attention, split);
            assertClose(full, 0, first, 0, split * vocab, bound, name + " chunk");
            for (int t = split; t < ids.length; t++) {
                float[] step = model.forward(new int[]{ids[t]}, cache, attention, 1);
                assertClose(full, t * vocab, step, 0, vocab, bound, name + " step " + t);
            }
        }
    }

    /** Prefill and decode run different kernels (GEMM vs GEMV): they differ by rounding only ({@link Bounds#forwardPass}). */
    static void assertClose(float[] a, int ao, float[] b, int bo, int n, double bound, String what) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < n; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[ao + i] - b[bo + i]));
            maxRef = Math.max(maxRef, Math.abs(a[ao + i]));
        }
        assertTrue(maxDiff <= bound * maxRef, what + ": max|Δ| " + maxDiff + " of " + maxRef + ", bound " + bound);
    }
}
