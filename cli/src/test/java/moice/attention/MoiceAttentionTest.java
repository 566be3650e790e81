package moice.attention;

import moice.Bounds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MoICE attention against a brute-force twin written the official way: every expert computed with the plain
 * {@link ScalarAttention}, the router in double precision, the unselected experts multiplied by zero. Random inputs
 * over shapes that cross query and key tiles, GQA, MQA, sliding windows, both RoPE layouts and a cache offset.
 */
class MoiceAttentionTest {

    @ParameterizedTest
    @CsvSource({
            // heads, kvHeads, headDim, window, start, T, layout, N, K
            "4, 2, 16, 0, 0, 40, HALF_SPLIT, 7, 3",
            "4, 1, 24, 16, 0, 70, HALF_SPLIT, 5, 2",
            "6, 2, 10, 0, 30, 150, INTERLEAVED, 4, 4",
            "3, 3, 8, 0, 100, 1, HALF_SPLIT, 3, 1",
            "8, 2, 32, 20, 65, 17, INTERLEAVED, 6, 5",
            "9, 3, 64, 0, 0, 45, HALF_SPLIT, 7, 3",
            "6, 3, 12, 40, 90, 100, HALF_SPLIT, 7, 7",
            // decode blocks (at most 16 tokens): MixedExpertDecode
            "9, 3, 64, 0, 2047, 1, HALF_SPLIT, 7, 7",
            "14, 2, 64, 0, 300, 1, HALF_SPLIT, 7, 7",
            "14, 2, 64, 0, 130, 16, INTERLEAVED, 7, 3",
            "8, 2, 32, 20, 65, 5, INTERLEAVED, 6, 5",
            "6, 3, 10, 0, 0, 3, HALF_SPLIT, 4, 2",
            "4, 4, 24, 50, 200, 9, HALF_SPLIT, 7, 1",
    })
    void matchesAllExpertsBruteForce(int heads, int kvHeads, int d, int window, int start, int T, RopeLayout layout,
                                     int n, int k) {
        AttentionShape shape = new AttentionShape(heads, kvHeads, d, window, layout);
        Random rnd = new Random(heads * 101 + T * 7 + n);
        int end = start + T;
        float[] keys = CausalAttentionTest.random(rnd, end * shape.kvDim());
        float[] values = CausalAttentionTest.random(rnd, end * shape.kvDim());
        float[] q = CausalAttentionTest.random(rnd, T * shape.qDim());
        double[] bases = new double[n];
        for (int j = 0; j < n; j++) bases[j] = 10000 * (1 + 0.37 * j);
        Routers routers = Routers.random(bases, k, d, 2, 0.5, 5);
        MoiceAttention moice = MoiceAttention.create(shape, routers, RopeScaling.NONE, 4096).recordingRouting();
        MoiceAttention.State state = moice.newState();
        RoutingLog log = state.routingLog();
        float[] actual = new float[T * shape.qDim()];
        java.util.Arrays.fill(actual, Float.NaN); // the variant must overwrite every row
        moice.attend(state, 1, q.clone(), T, start, keys, values, actual);

        float[] expected = new float[T * shape.qDim()];
        float scale = (float) (1 / Math.sqrt(d));
        Rope[] ropes = new Rope[n];
        for (int j = 0; j < n; j++) {
            ropes[j] = Rope.of(bases[j], d, RopeScaling.NONE, 4096, end);
            ropes[j].ensure(end);
        }
        double routerError = 0;
        for (int t = 0; t < T; t++)
            for (int h = 0; h < heads; h++) {
                float[] x = java.util.Arrays.copyOfRange(q, t * shape.qDim() + h * d, t * shape.qDim() + (h + 1) * d);
                RopeKernels.rotate(x, 0, start + t, ropes[0], layout);
                double[] z = routerLogits(routers, 1, x);
                routerError = Math.max(routerError, routerLogitError(routers, 1, x));
                int[] order = sortedDescending(z);
                double[] p = new double[n];
                double kept = 0;
                for (int r = 0; r < k; r++) kept += Math.exp(z[order[r]] - z[order[0]]);
                for (int r = 0; r < k; r++) p[order[r]] = Math.exp(z[order[r]] - z[order[0]]) / kept;
                int[] experts = log.experts(1, start + t, h);
                for (int r = 0; r < k; r++) assertTrue(experts[r] == order[r], "expert rank " + r);
                for (int j = 0; j < n; j++) {
                    // one query at a time: all experts, unselected ones weighted by zero
                    float[] qRot = new float[T * shape.qDim()];
                    System.arraycopy(q, t * shape.qDim() + h * d, qRot, t * shape.qDim() + h * d, d);
                    RopeKernels.rotate(qRot, t * shape.qDim() + h * d, start + t, ropes[j], layout);
                    float[] o = new float[T * shape.qDim()];
                    ScalarAttention.run(shape, qRot, start, t, t + 1, h / shape.groupSize(), keys, values, ropes[j],
                            scale, o);
                    for (int c = 0; c < d; c++) {
                        int i = t * shape.qDim() + h * d + c;
                        expected[i] += (float) (p[j] * o[i]);
                    }
                }
            }
        // each expert's attention within the attention bound; the weights within what the router logits' float error
        // allows through the softmax; the K-term mix and the reference's n-term sum rounded once per term
        double maxV = Bounds.maxAbs(values);
        double bound = Bounds.attentionOutput(d, end, scale * Bounds.maxNorm(q, d) * Bounds.maxNorm(keys, d), maxV)
                + maxV * (Math.expm1(2 * routerError) + 2 * k * Bounds.U + Bounds.gamma(k) + Bounds.gamma(n));
        assertClose(expected, actual, bound, "on the fly");

        // the same with rotated key copies kept: first a call over [0, start) builds them, then the block extends them
        MoiceAttention withCopies = MoiceAttention.create(shape, routers, RopeScaling.NONE, 4096)
                .withRotatedKeyCopies(true);
        MoiceAttention.State copyState = withCopies.newState();
        if (start > 0) withCopies.attend(copyState, 1, CausalAttentionTest.random(rnd, start * shape.qDim()), start, 0,
                keys, values, new float[start * shape.qDim()]);
        float[] copies = new float[T * shape.qDim()];
        java.util.Arrays.fill(copies, Float.NaN);
        withCopies.attend(copyState, 1, q.clone(), T, start, keys, values, copies);
        assertClose(expected, copies, bound, "rotated copies");
        // one token: the decode kernel does the mixed kernel's arithmetic in its order, key tiles rotated on the fly
        // instead of read from the copies, so the two agree to the bit
        if (T == 1) assertArrayEquals(copies, actual, "decode vs rotated copies");
        assertTrue(copyState.rotatedCopyBytes() >= 4L * n * end * shape.kvDim());
    }

    private static void assertClose(float[] expected, float[] actual, double bound, String what) {
        float maxDiff = 0;
        for (int i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
        assertTrue(maxDiff <= bound, what + ": max |Δ| " + maxDiff + " above the bound " + bound);
    }

    /**
     * Bound on the float32 error of the router logits {@code z = W2·(silu(W1·x) ⊙ (W3·x))}: each dot within
     * {@code γ(len)·Σ|terms|}, silu's slope at most 1.1, one rounding for silu and one for the product.
     */
    private static double routerLogitError(Routers r, int layer, float[] x) {
        int n = r.numExperts(), d = r.headDim();
        double[] hidden = new double[n], hiddenError = new double[n];
        for (int i = 0; i < n; i++) {
            double a = 0, b = 0, aAbs = 0, bAbs = 0;
            for (int c = 0; c < d; c++) {
                a += r.gate1()[layer][i * d + c] * (double) x[c];
                b += r.gate3()[layer][i * d + c] * (double) x[c];
                aAbs += Math.abs(r.gate1()[layer][i * d + c] * (double) x[c]);
                bAbs += Math.abs(r.gate3()[layer][i * d + c] * (double) x[c]);
            }
            double silu = a / (1 + Math.exp(-a));
            hidden[i] = silu * b;
            hiddenError[i] = 1.1 * Bounds.gamma(d) * aAbs * Math.abs(b) + Math.abs(silu) * Bounds.gamma(d) * bAbs
                    + 4 * Bounds.U * Math.abs(hidden[i]);
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double e = 0, abs = 0;
            for (int c = 0; c < n; c++) {
                e += Math.abs(r.gate2()[layer][i * n + c]) * hiddenError[c];
                abs += Math.abs(r.gate2()[layer][i * n + c] * hidden[c]);
            }
            worst = Math.max(worst, e + Bounds.gamma(n) * abs);
        }
        return worst;
    }

    @ParameterizedTest
    @CsvSource({"1.0, 2.0, 2.0, 0.5, 2", "3.0, 3.0, 3.0, 3.0, 3", "-1, -1, 5, 5, 4"})
    void topKPrefersLowerIndexOnTies(float a, float b, float c, float dd, int k) {
        float[] z = {a, b, c, dd};
        int[] experts = new int[k];
        float[] weights = new float[k];
        Routers.selectTopK(z, 0, z.length, k, experts, weights, 0);
        int[] order = sortedDescending(new double[]{a, b, c, dd});
        assertArrayEquals(java.util.Arrays.copyOf(order, k), experts);
        double sum = 0;
        for (float w : weights) sum += w;
        assertTrue(Math.abs(sum - 1) <= Bounds.gamma(k) + 2 * k * Bounds.U, "weights sum to " + sum);
    }

    private static double[] routerLogits(Routers r, int layer, float[] x) {
        int n = r.numExperts(), d = r.headDim();
        double[] hidden = new double[n], z = new double[n];
        for (int i = 0; i < n; i++) {
            double a = 0, b = 0;
            for (int c = 0; c < d; c++) {
                a += r.gate1()[layer][i * d + c] * (double) x[c];
                b += r.gate3()[layer][i * d + c] * (double) x[c];
            }
            hidden[i] = a / (1 + Math.exp(-a)) * b;
        }
        for (int i = 0; i < n; i++)
            for (int c = 0; c < n; c++) z[i] += r.gate2()[layer][i * n + c] * hidden[c];
        return z;
    }

    /** Stable descending order: equal values keep ascending index order. */
    private static int[] sortedDescending(double[] z) {
        return java.util.stream.IntStream.range(0, z.length).boxed()
                .sorted((i, j) -> Double.compare(z[j], z[i])).mapToInt(Integer::intValue).toArray();
    }
}
