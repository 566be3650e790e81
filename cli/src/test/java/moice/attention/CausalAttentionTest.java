package moice.attention;

import moice.Bounds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tiled online-softmax kernel against its plain twin, over shapes that hit tile edges, GQA, MQA and windows. */
class CausalAttentionTest {

    @ParameterizedTest
    @CsvSource({
            // heads, kvHeads, headDim, window, start, T, layout
            "4, 2, 16, 0, 0, 40, HALF_SPLIT",
            "4, 1, 24, 0, 0, 130, HALF_SPLIT",
            "9, 3, 64, 0, 0, 65, INTERLEAVED",
            "2, 2, 8, 0, 100, 1, HALF_SPLIT",
            "4, 2, 16, 16, 0, 48, HALF_SPLIT",
            "4, 4, 12, 5, 70, 3, INTERLEAVED",
            "3, 1, 32, 0, 63, 2, HALF_SPLIT",
            "14, 2, 64, 0, 300, 1, HALF_SPLIT",
            "9, 3, 64, 0, 130, 1, INTERLEAVED",
    })
    void tiledMatchesScalar(int heads, int kvHeads, int d, int window, int start, int T, RopeLayout layout) {
        Inputs in = Inputs.of(new AttentionShape(heads, kvHeads, d, window, layout), start, T, heads * 31 + d * 7 + T);
        AttentionShape shape = in.shape;
        float[] keys = in.keys, values = in.values, q = in.q;
        Rope rope = in.rope;
        float scale = in.scale;
        float[] expected = new float[T * shape.qDim()], actual = new float[T * shape.qDim()];
        CausalAttention.Scratch sc = new CausalAttention.Scratch(d);
        for (int g = 0; g < kvHeads; g++) {
            ScalarAttention.run(shape, q, start, 0, T, g, keys, values, rope, scale, expected);
            for (int t0 = 0; t0 < T; t0 += 7)
                CausalAttention.run(shape, q, start, t0, Math.min(T, t0 + 7), g, keys, values, rope, scale, actual, sc);
        }
        assertWithinAttentionBound(expected, actual, d, start + T, scale, q, keys, values);
    }

    /**
     * Each query's arithmetic does not depend on which queries share a tile with it (three at a time, or alone):
     * a block of tokens gives, bit for bit, what each of its tokens gives alone (decode), for groups of 3 (the
     * shared-load kernels, across tokens in the block), 7 (3 + 3 + 1) and 2 (one at a time), with and without a
     * window (keys rotated per tile or one by one).
     */
    @ParameterizedTest
    @CsvSource({
            "9, 3, 64, 0, 120, 9, INTERLEAVED",
            "14, 2, 64, 0, 60, 11, HALF_SPLIT",
            "4, 2, 16, 0, 0, 70, HALF_SPLIT",
            "9, 3, 24, 20, 90, 6, HALF_SPLIT",
    })
    void blockGivesTheBitsOfEachTokenAlone(int heads, int kvHeads, int d, int window, int start, int T,
                                           RopeLayout layout) {
        Inputs in = Inputs.of(new AttentionShape(heads, kvHeads, d, window, layout), start, T, heads * 17 + d + T);
        AttentionShape shape = in.shape;
        float[] block = new float[T * shape.qDim()], alone = new float[T * shape.qDim()];
        CausalAttention.Scratch sc = new CausalAttention.Scratch(d);
        for (int g = 0; g < kvHeads; g++) {
            CausalAttention.run(shape, in.q, start, 0, T, g, in.keys, in.values, in.rope, in.scale, block, sc);
            for (int t = 0; t < T; t++)
                CausalAttention.run(shape, in.q, start, t, t + 1, g, in.keys, in.values, in.rope, in.scale, alone, sc);
        }
        for (int i = 0; i < block.length; i++)
            assertEquals(Float.floatToRawIntBits(alone[i]), Float.floatToRawIntBits(block[i]), "element " + i);
    }

    /** Random cached keys and values for positions {@code [0, start + T)}, T tokens' queries, the rope covering them. */
    private record Inputs(AttentionShape shape, float[] keys, float[] values, float[] q, Rope rope, float scale) {
        static Inputs of(AttentionShape shape, int start, int T, long seed) {
            Random rnd = new Random(seed);
            int end = start + T, d = shape.headDim();
            float[] keys = random(rnd, end * shape.kvDim()), values = random(rnd, end * shape.kvDim());
            float[] q = random(rnd, T * shape.qDim());
            Rope rope = Rope.of(10000, d, RopeScaling.NONE, 4096, end);
            rope.ensure(end);
            return new Inputs(shape, keys, values, q, rope, (float) (1 / Math.sqrt(d)));
        }
    }

    /** {@link Bounds#attentionOutput} for these inputs. */
    static void assertWithinAttentionBound(float[] expected, float[] actual, int d, int keys, float scale, float[] q,
                                           float[] k, float[] v) {
        double bound = Bounds.attentionOutput(d, keys, scale * Bounds.maxNorm(q, d) * Bounds.maxNorm(k, d),
                Bounds.maxAbs(v));
        float maxDiff = 0;
        for (int i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
        assertTrue(maxDiff <= bound, "max |Δ| " + maxDiff + " above the bound " + bound);
    }

    static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian() * 1.5f;
        return a;
    }
}
