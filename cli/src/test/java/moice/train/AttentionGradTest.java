package moice.train;

import moice.Bounds;
import moice.attention.AttentionShape;
import moice.attention.RopeLayout;
import moice.attention.RopeScaling;
import moice.attention.Routers;
import moice.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiled {@link AttentionGrad} against its row-by-row twin {@link AttentionGradReference} on random inputs (MHA,
 * GQA, MQA, odd lengths, sliding windows, both RoPE layouts, K &lt; N, K = N, vanilla), and the tile kernels of
 * {@link AttentionTiles} against their scalar twins.
 */
class AttentionGradTest {
    private static float[] random(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    @Test
    void gemmIsBitIdenticalToScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(3);
        int C = AttentionTiles.COLS;
        for (int m : new int[] {1, 3, 4, 5, 6, 8, 11, 12, 17})
            for (int n : new int[] {C, 2 * C, 3 * C})
                for (int kk : new int[] {0, 1, 7, 16, 33})
                    for (boolean transposedA : new boolean[] {false, true})
                        for (boolean accumulate : new boolean[] {false, true}) {
                            int ao = rnd.nextInt(4), bo = rnd.nextInt(5), co = rnd.nextInt(3);
                            int lda = (transposedA ? m : kk) + rnd.nextInt(3), ldb = n + rnd.nextInt(4), ldc = n + rnd.nextInt(3);
                            int ars = transposedA ? 1 : lda, acs = transposedA ? lda : 1;
                            float[] a = random(rnd, ao + Math.max(m, kk) * lda + 8, 1);
                            float[] b = random(rnd, bo + Math.max(kk, 1) * ldb + 8, 1);
                            float[] c = random(rnd, co + m * ldc + 4, 1), c2 = c.clone();
                            AttentionTiles.gemm(m, n, kk, a, ao, ars, acs, b, bo, ldb, c, co, ldc, accumulate);
                            AttentionTiles.gemmScalar(m, n, kk, a, ao, ars, acs, b, bo, ldb, c2, co, ldc, accumulate);
                            assertArrayEquals(c2, c, "m=" + m + " n=" + n + " k=" + kk);
                        }
    }

    @Test
    void expSumAndScoreGradMatchScalarTwins() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int n : new int[] {0, 1, 7, 8, 9, 17, 64, 1000}) {
            int o = rnd.nextInt(5);
            float[] x = random(rnd, o + n + 3, 6), y = x.clone();
            float s1 = AttentionTiles.expSum(x, o, n, 0.125f, 0.4f), s2 = AttentionTiles.expSumScalar(y, o, n, 0.125f, 0.4f);
            assertEquals(s2, s1, Bounds.gamma(n) * s2); // the same terms (Exp), summed in float vs double
            assertArrayEquals(y, x);
            float[] p = random(rnd, o + n, 1), d1 = random(rnd, o + n, 2), d2 = d1.clone();
            AttentionTiles.scoreGrad(p, o, d1, o, n, 0.3f, 0.125f);
            AttentionTiles.scoreGradScalar(p, o, d2, o, n, 0.3f, 0.125f);
            assertArrayEquals(d2, d1);
        }
    }

    @Test
    void siluBackwardMatchesScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int n : new int[] {1, 7, 8, 9, 31, 100}) {
            int o = rnd.nextInt(4);
            float[] g = random(rnd, o + n, 8), u = random(rnd, o + n, 2), da = random(rnd, o + n, 1);
            float[] dg = new float[n + 3], du = new float[n + 5], dg2 = dg.clone(), du2 = du.clone();
            LayerBackward.siluBackward(g, u, da, o, n, dg, 3, du, 5);
            LayerBackward.siluBackwardScalar(g, u, da, o, n, dg2, 3, du2, 5);
            assertArrayEquals(dg2, dg);
            assertArrayEquals(du2, du);
        }
    }

    /** One random case: shape, length, window, layout, experts (null bases: vanilla). */
    private record Case(int heads, int kvHeads, int d, int T, int window, RopeLayout layout, double[] bases, int topK) {}

    @Test
    void tiledMatchesRowByRowReference() {
        List<Case> cases = List.of(
                new Case(4, 2, 16, 37, 0, RopeLayout.HALF_SPLIT, new double[] {10000, 17500, 20000, 25000}, 2),
                new Case(3, 1, 8, 70, 0, RopeLayout.INTERLEAVED, new double[] {500, 900, 1300}, 3),
                new Case(2, 2, 6, 45, 9, RopeLayout.HALF_SPLIT, new double[] {100, 250, 400, 700, 1000}, 1),
                new Case(6, 3, 64, 131, 0, RopeLayout.HALF_SPLIT, new double[] {1e4, 1.75e4, 1.8e4, 1.9e4, 2e4, 2.25e4, 2.5e4}, 3),
                new Case(8, 1, 24, 53, 20, RopeLayout.INTERLEAVED, new double[] {1e4, 2e4, 3e4}, 2),
                new Case(4, 2, 16, 33, 0, RopeLayout.HALF_SPLIT, null, 1),
                new Case(3, 3, 10, 17, 5, RopeLayout.INTERLEAVED, null, 1));
        long seed = 11;
        for (Case c : cases) check(c, seed++);
    }

    /**
     * The same results bit for bit whether the pool's threads share the work or one thread does it all (a call made
     * inside a {@link moice.tensor.Parallel} body runs serially).
     */
    @Test
    void resultsDoNotDependOnThreadCount() {
        Case c = new Case(6, 2, 16, 97, 0, RopeLayout.HALF_SPLIT, new double[] {1e4, 2e4, 3e4, 4e4, 5e4}, 2);
        float[][] pooled = run(c, 21);
        float[][][] serial = new float[1][][];
        moice.tensor.Parallel.forRange(1, 1, (lo, hi) -> serial[0] = run(c, 21));
        for (int i = 0; i < pooled.length; i++) assertArrayEquals(pooled[i], serial[0][i], "result " + i);
    }

    /**
     * A finished instance is garbage: the pool threads' scratch must not keep it (and its kept layer states) alive —
     * it once did, and training ran out of heap after a few sequences. Also: a second instance of the same shape,
     * which reuses the threads' scratch, gives the same bits as the first.
     */
    @Test
    void finishedInstancesAreCollectedAndScratchReuseChangesNothing() throws InterruptedException {
        Case c = new Case(6, 2, 16, 97, 0, RopeLayout.HALF_SPLIT, new double[] {1e4, 2e4, 3e4, 4e4, 5e4}, 2);
        java.lang.ref.WeakReference<AttentionGrad>[] last = new java.lang.ref.WeakReference[1];
        float[][] first = run(c, 21, last);
        float[][] second = run(c, 21, null);
        for (int i = 0; i < first.length; i++) assertArrayEquals(first[i], second[i], "result " + i);
        for (int i = 0; i < 50 && last[0].get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(last[0].get() == null, "a finished AttentionGrad is still reachable");
    }

    private static float[][] run(Case c, long seed) {
        return run(c, seed, null);
    }

    /** Layer-0 output, dq, dk, dv and router gradients of the tiled attention on seeded random inputs. */
    private static float[][] run(Case c, long seed, java.lang.ref.WeakReference<AttentionGrad>[] instance) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int T = c.T;
        ModelConfig config = new ModelConfig("LlamaForCausalLM", 100, c.heads * c.d, 32, 1, c.heads, c.kvHeads,
                c.d, 1e-5f, 10000, RopeScaling.NONE, 4096, false, false, false, false, c.window, 1, List.of(2));
        AttentionShape shape = new AttentionShape(c.heads, c.kvHeads, c.d, c.window, c.layout);
        Routers routers = Routers.random(c.bases, c.topK, c.d, 1, 0.6, seed);
        AttentionGrad a = new AttentionGrad(config, shape, routers, T, true);
        if (instance != null) instance[0] = new java.lang.ref.WeakReference<>(a);
        int qDim = shape.qDim(), kvDim = shape.kvDim();
        float[] q = random(rnd, T * qDim, 2), k = random(rnd, T * kvDim, 2), v = random(rnd, T * kvDim, 1);
        float[] out = new float[T * qDim], dq = new float[T * qDim], dk = new float[T * kvDim], dv = new float[T * kvDim];
        a.attend(moice.attention.AttentionVariant.STATELESS, 0, q, T, 0, k, v, out);
        RouterGradients grads = RouterGradients.zerosLike(routers);
        a.backward(0, q, k, v, random(rnd, T * qDim, 1), dq, dk, dv, grads, new double[] {0.01, 0.02, 0, 0.03, 0.01});
        return new float[][] {out, dq, dk, dv, grads.gate1()[0], grads.gate2()[0], grads.gate3()[0]};
    }

    private static void check(Case c, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int layers = 2, T = c.T;
        ModelConfig config = new ModelConfig("LlamaForCausalLM", 100, c.heads * c.d, 32, layers, c.heads, c.kvHeads,
                c.d, 1e-5f, 10000, RopeScaling.NONE, 4096, false, false, false, false, c.window, 1, List.of(2));
        AttentionShape shape = new AttentionShape(c.heads, c.kvHeads, c.d, c.window, c.layout);
        Routers routers = c.bases == null ? null : Routers.random(c.bases, c.topK, c.d, layers, 0.6, seed);
        String what = c.toString();
        AttentionGrad tiled = new AttentionGrad(config, shape, routers, T, true);
        AttentionGradReference ref = new AttentionGradReference(config, shape, routers, T, true);
        tiled.countRouting(true);
        ref.countRouting(true);
        int qDim = shape.qDim(), kvDim = shape.kvDim();
        // two float32 evaluations of one attention layer, forward and backward: the forward-pass rule for one layer's
        // stages (scores, softmax, values; dP, dS, dQ, dK, dV, router) relative to each result's largest magnitude
        double bound = Bounds.STAGES_PER_LAYER * Bounds.gammaProbabilistic(Math.max(c.d * c.heads, T));
        float[][] qs = new float[layers][], ks = new float[layers][], vs = new float[layers][];
        for (int l = 0; l < layers; l++) {
            qs[l] = random(rnd, T * qDim, 2);
            ks[l] = random(rnd, T * kvDim, 2);
            vs[l] = random(rnd, T * kvDim, 1);
            float[] out = new float[T * qDim], outRef = new float[T * qDim];
            tiled.attend(moice.attention.AttentionVariant.STATELESS, l, qs[l], T, 0, ks[l], vs[l], out);
            ref.attend(moice.attention.AttentionVariant.STATELESS, l, qs[l], T, 0, ks[l], vs[l], outRef);
            close(outRef, out, bound, what + " out");
            close(ref.keptOutputs(l), tiled.keptOutputs(l), bound, what + " outputs");
            close(ref.keptLse(l), tiled.keptLse(l), bound, what + " lse");
        }
        assertArrayEquals(ref.choiceCounts(), tiled.choiceCounts());
        assertEquals(ref.auxLoss(), tiled.auxLoss(), 0);
        int n = c.bases == null ? 1 : c.bases.length;
        double[] auxGrad = null;
        if (routers != null && c.topK < n) {
            auxGrad = new double[n];
            for (int j = 0; j < n; j++) auxGrad[j] = rnd.nextDouble() * 0.01;
        }
        RouterGradients grads = routers == null ? null : RouterGradients.zerosLike(routers);
        RouterGradients gradsRef = routers == null ? null : RouterGradients.zerosLike(routers);
        for (int l = layers - 1; l >= 0; l--) {
            float[] dOut = random(rnd, T * qDim, 1);
            float[] dq = random(rnd, T * qDim, 1), dk = random(rnd, T * kvDim, 1), dv = random(rnd, T * kvDim, 1);
            float[] dqR = new float[T * qDim], dkR = new float[T * kvDim], dvR = new float[T * kvDim];
            tiled.backward(l, qs[l], ks[l], vs[l], dOut, dq, dk, dv, grads, auxGrad);
            ref.backward(l, qs[l], ks[l], vs[l], dOut, dqR, dkR, dvR, gradsRef, auxGrad);
            close(dqR, dq, bound, what + " dq");
            close(dkR, dk, bound, what + " dk");
            close(dvR, dv, bound, what + " dv");
        }
        if (routers != null)
            for (int l = 0; l < layers; l++) {
                close(gradsRef.gate1()[l], grads.gate1()[l], bound, what + " gate1");
                close(gradsRef.gate2()[l], grads.gate2()[l], bound, what + " gate2");
                close(gradsRef.gate3()[l], grads.gate3()[l], bound, what + " gate3");
            }
    }

    /** Every element within {@code rel} of the reference array's largest magnitude ({@link Bounds}). */
    private static void close(float[] expected, float[] actual, double rel, String what) {
        assertEquals(expected.length, actual.length, what);
        double max = 0;
        for (float v : expected) max = Math.max(max, Math.abs(v));
        assertTrue(max > 0, what + ": all zero");
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[i], rel * max, what + " [" + i + "]");
    }
}
