package moice.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD kernels on float32 arrays ({@link FloatVector#SPECIES_PREFERRED}: 8 lanes on AVX2, 16 on AVX-512). Same
 * signatures and contracts as {@link ScalarKernels}; results differ only by summation order in reductions
 * ({@code dot}, the sums inside {@code rmsnorm} and {@code softmax}); element-wise kernels give bit-identical results
 * ({@code exp} is {@link Exp}, the same bits in both). Every kernel gives the same bits for the same inputs whichever
 * JIT tier runs it: lane sums in a fixed order ({@link #sumLanes}), no intrinsic whose rounding depends on the tier.
 */
public final class VectorKernels {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Lane permutations for interleaved RoPE: swap each pair, and spread lanes {@code 0..L/2} / {@code L/2..L} to pairs. */
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(S, i -> i ^ 1);
    private static final VectorShuffle<Float> DUP_LOW = VectorShuffle.fromOp(S, i -> i / 2);
    private static final VectorShuffle<Float> DUP_HIGH = VectorShuffle.fromOp(S, i -> L / 2 + i / 2);
    /** {@code -1} on even lanes, {@code +1} on odd lanes: the signs of {@code sin} in the pair rotation. */
    private static final FloatVector PAIR_SIGNS = FloatVector.fromArray(S, pairSigns(), 0);

    private VectorKernels() {}

    /**
     * Folds that add lane {@code i + step} onto lane {@code i} (see {@link #sumLanes}), one static final field per step:
     * the JIT treats such fields as constants, so it knows each shuffle's exact class and compiles {@code rearrange} to
     * a permute. (Shuffles read from an array are not constants: the Vector API then runs its Java fallback, which
     * allocates a float[] and a vector object per call — gigabytes per second in decode.)
     */
    public static final VectorShuffle<Float> FOLD_8 = fold(S, 8), FOLD_4 = fold(S, 4), FOLD_2 = fold(S, 2),
            FOLD_1 = fold(S, 1);
    private static final VectorSpecies<Float> S256 = FloatVector.SPECIES_256;
    /** {@link #sumLanes256}'s folds; package-private for kernels that inline the sum (see {@code Q4_1Format}). */
    static final VectorShuffle<Float> FOLD256_4 = fold(S256, 4), FOLD256_2 = fold(S256, 2), FOLD256_1 = fold(S256, 1);

    private static VectorShuffle<Float> fold(VectorSpecies<Float> species, int step) {
        int lanes = species.length();
        return step < lanes ? VectorShuffle.fromOp(species, i -> (i + step) % lanes) : null;
    }

    /**
     * The sum of the lanes of {@code v} in a fixed tree order: lane {@code i + L/2} onto lane {@code i}, then
     * {@code L/4}, .., 1. {@code reduceLanes(ADD)} may add float lanes in a different order once the JIT has compiled
     * the caller than before, so the same inputs could give results a bit apart within one run; training's
     * resume-to-identical-routers guarantee, and the same bytes from the same command, need sums that do not depend on
     * that. {@code v} must be of the preferred species ({@link #sumLanes256} for 256-bit vectors).
     */
    public static float sumLanes(FloatVector v) {
        // straight-line code only (the JIT keeps the vector in registers); the species is {@link #S} by contract
        FloatVector w = v;
        if (L >= 16) w = w.add(w.rearrange(FOLD_8));
        if (L >= 8) w = w.add(w.rearrange(FOLD_4));
        if (L >= 4) w = w.add(w.rearrange(FOLD_2));
        if (L >= 2) w = w.add(w.rearrange(FOLD_1));
        return w.lane(0);
    }

    /** {@link #sumLanes} for 256-bit vectors (8 lanes; the quantised row dots use them on every machine). */
    public static float sumLanes256(FloatVector v) {
        FloatVector w = v.add(v.rearrange(FOLD256_4));
        w = w.add(w.rearrange(FOLD256_2));
        w = w.add(w.rearrange(FOLD256_1));
        return w.lane(0);
    }


    private static float[] pairSigns() {
        float[] s = new float[L];
        for (int i = 0; i < L; i++) s[i] = (i & 1) == 0 ? -1f : 1f;
        return s;
    }

    /** {@code Σ_i a[ao+i]·b[bo+i]} for {@code i < n}, accumulated in float (four vector accumulators). */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i <= n - 4 * L; i += 4 * L) {
            s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
            s1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), s1);
            s2 = FloatVector.fromArray(S, a, ao + i + 2 * L).fma(FloatVector.fromArray(S, b, bo + i + 2 * L), s2);
            s3 = FloatVector.fromArray(S, a, ao + i + 3 * L).fma(FloatVector.fromArray(S, b, bo + i + 3 * L), s3);
        }
        for (; i <= n - L; i += L)
            s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
        float s = sumLanes(s0.add(s1).add(s2.add(s3)));
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** {@code y[yo+i] += alpha·x[xo+i]} (multiply then add, as the scalar twin; no fused rounding). */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector yv = FloatVector.fromArray(S, y, yo + i);
            yv.add(FloatVector.fromArray(S, x, xo + i).mul(alpha)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /** {@code x[xo+i] *= s}. */
    public static void scale(float[] x, int xo, int n, float s) {
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, xo + i).mul(s).intoArray(x, xo + i);
        for (; i < n; i++) x[xo + i] *= s;
    }

    /** {@code dst[dso+i] += src[so+i]}. */
    public static void add(float[] dst, int dso, float[] src, int so, int n) {
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(S, dst, dso + i).add(FloatVector.fromArray(S, src, so + i)).intoArray(dst, dso + i);
        for (; i < n; i++) dst[dso + i] += src[so + i];
    }

    /** Sum of squares in float, two vector accumulators. */
    private static float sumOfSquares(float[] x, int xo, int n) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0;
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            FloatVector a = FloatVector.fromArray(S, x, xo + i), b = FloatVector.fromArray(S, x, xo + i + L);
            s0 = a.fma(a, s0);
            s1 = b.fma(b, s1);
        }
        for (; i <= n - L; i += L) {
            FloatVector a = FloatVector.fromArray(S, x, xo + i);
            s0 = a.fma(a, s0);
        }
        float s = sumLanes(s0.add(s1));
        for (; i < n; i++) s += x[xo + i] * x[xo + i];
        return s;
    }

    /**
     * RMSNorm as HF {@code LlamaRMSNorm} in float32: {@code out[oo+i] = (x[xo+i]·inv)·weight[i]} with
     * {@code inv = 1/sqrt(mean(x²) + eps)}. {@code out} may alias {@code x}.
     */
    public static void rmsnorm(float[] x, int xo, float[] weight, float[] out, int oo, int n, float eps) {
        float inv = ScalarKernels.rmsInverse(sumOfSquares(x, xo, n), n, eps);
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(S, x, xo + i).mul(inv).mul(FloatVector.fromArray(S, weight, i)).intoArray(out, oo + i);
        for (; i < n; i++) out[oo + i] = (x[xo + i] * inv) * weight[i];
    }

    /** SwiGLU: {@code out[oo+i] = gate/(1 + exp(-gate))·up}. */
    public static void siluMul(float[] gate, int go, float[] up, int uo, float[] out, int oo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector g = FloatVector.fromArray(S, gate, go + i);
            FloatVector e = Exp.exp(g.neg());
            g.div(e.add(1f)).mul(FloatVector.fromArray(S, up, uo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float g = gate[go + i];
            out[oo + i] = g / (1f + Exp.exp(-g)) * up[uo + i];
        }
    }

    /** Largest of {@code x[o .. o+n)} ({@link Math#max} semantics); {@code -inf} when {@code n == 0}. */
    public static float max(float[] x, int o, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i <= n - L; i += L) m = m.max(FloatVector.fromArray(S, x, o + i));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) r = Math.max(r, x[o + i]);
        return r;
    }

    /** In-place softmax of {@code x[o .. o+n)}: {@code exp(x - max) / Σ exp(x - max)} in float32. */
    public static void softmax(float[] x, int o, int n) {
        if (n == 0) return;
        float m = max(x, o, n);
        FloatVector sv = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, o + i).sub(m));
            e.intoArray(x, o + i);
            sv = sv.add(e);
        }
        float sum = sumLanes(sv);
        for (; i < n; i++) {
            float e = Exp.exp(x[o + i] - m);
            x[o + i] = e;
            sum += e;
        }
        scale(x, o, n, 1f / sum);
    }

    /** RoPE, HF "rotate_half" layout; see {@link ScalarKernels#rotateHalf}. Bit-identical to the scalar twin. */
    public static void rotateHalf(float[] x, int xo, float[] cos, float[] sin, int co, int headDim) {
        int h = headDim / 2, i = 0;
        for (; i <= h - L; i += L) {
            FloatVector x1 = FloatVector.fromArray(S, x, xo + i), x2 = FloatVector.fromArray(S, x, xo + h + i);
            FloatVector c = FloatVector.fromArray(S, cos, co + i), s = FloatVector.fromArray(S, sin, co + i);
            x1.mul(c).sub(x2.mul(s)).intoArray(x, xo + i);
            x2.mul(c).add(x1.mul(s)).intoArray(x, xo + h + i);
        }
        for (; i < h; i++) {
            float x1 = x[xo + i], x2 = x[xo + h + i], c = cos[co + i], s = sin[co + i];
            x[xo + i] = x1 * c - x2 * s;
            x[xo + h + i] = x2 * c + x1 * s;
        }
    }

    /**
     * RoPE, interleaved pairs {@code (2i, 2i+1)} with frequency {@code i}; see {@link ScalarKernels#rotateInterleaved}.
     * Bit-identical to the scalar twin: {@code x1·c − x2·s} is computed as {@code x1·c + (−1·(x2·s))}.
     */
    public static void rotateInterleaved(float[] x, int xo, float[] cos, float[] sin, int co, int headDim) {
        int h = headDim / 2, i = 0; // i counts pairs; one step covers L pairs = two vectors of x
        for (; i <= h - L; i += L) {
            FloatVector c = FloatVector.fromArray(S, cos, co + i), s = FloatVector.fromArray(S, sin, co + i);
            rotatePairs(x, xo + 2 * i, c.rearrange(DUP_LOW), s.rearrange(DUP_LOW));
            rotatePairs(x, xo + 2 * i + L, c.rearrange(DUP_HIGH), s.rearrange(DUP_HIGH));
        }
        for (; i < h; i++) {
            float x1 = x[xo + 2 * i], x2 = x[xo + 2 * i + 1], c = cos[co + i], s = sin[co + i];
            x[xo + 2 * i] = x1 * c - x2 * s;
            x[xo + 2 * i + 1] = x2 * c + x1 * s;
        }
    }

    /** One vector of pairs: {@code (a, b) → (a·c − b·s, b·c + a·s)} with {@code c, s} already spread to pairs. */
    private static void rotatePairs(float[] x, int at, FloatVector c, FloatVector s) {
        FloatVector v = FloatVector.fromArray(S, x, at);
        v.mul(c).add(v.rearrange(SWAP_PAIRS).mul(s).mul(PAIR_SIGNS)).intoArray(x, at);
    }
}
