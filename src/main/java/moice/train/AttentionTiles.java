package moice.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moice.tensor.VectorKernels;

/**
 * Small dense kernels for training: a register-tiled GEMM on float arrays with strided operands (tiled attention,
 * {@link AttentionGrad}), and an exp built from exactly rounded operations only. Each has a plain scalar twin ({@code ...Scalar}) for tests.
 *
 * <p>The GEMM's vector and scalar forms are bit-identical: both accumulate every output element in ascending {@code k}
 * with a fused multiply-add, starting from the output's value (or zero).
 */
final class AttentionTiles {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** The GEMM's column count must be a multiple of this (two vectors). */
    static final int COLS = 2 * L;

    private AttentionTiles() {}

    /**
     * {@code C[i][j] (+)= Σ_{p<kk} A(i,p)·B(p,j)} for {@code i < m}, {@code j < n}, where
     * {@code A(i,p) = a[ao + i·ars + p·acs]}, {@code B(p,j) = b[bo + p·ldb + j]}, {@code C[i][j] = c[co + i·ldc + j]}.
     * {@code n} must be a multiple of {@link #COLS}. With {@code accumulate} false C's old values are ignored.
     */
    static void gemm(int m, int n, int kk, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
                     float[] c, int co, int ldc, boolean accumulate) {
        if (n % COLS != 0) throw new IllegalArgumentException("columns " + n + " not a multiple of " + COLS);
        int i = 0;
        for (; i + 6 <= m; i += 6)
            for (int j = 0; j < n; j += COLS) rows6(kk, a, ao + i * ars, ars, acs, b, bo + j, ldb, c, co + i * ldc + j, ldc, accumulate);
        for (; i + 4 <= m; i += 4)
            for (int j = 0; j < n; j += COLS) rows4(kk, a, ao + i * ars, ars, acs, b, bo + j, ldb, c, co + i * ldc + j, ldc, accumulate);
        for (; i < m; i++)
            for (int j = 0; j < n; j += COLS) rows1(kk, a, ao + i * ars, acs, b, bo + j, ldb, c, co + i * ldc + j, accumulate);
    }

    private static void rows6(int kk, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
                              float[] c, int co, int ldc, boolean accumulate) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        int o1 = co + ldc, o2 = o1 + ldc, o3 = o2 + ldc, o4 = o3 + ldc, o5 = o4 + ldc;
        if (accumulate) {
            c00 = FloatVector.fromArray(S, c, co);
            c01 = FloatVector.fromArray(S, c, co + L);
            c10 = FloatVector.fromArray(S, c, o1);
            c11 = FloatVector.fromArray(S, c, o1 + L);
            c20 = FloatVector.fromArray(S, c, o2);
            c21 = FloatVector.fromArray(S, c, o2 + L);
            c30 = FloatVector.fromArray(S, c, o3);
            c31 = FloatVector.fromArray(S, c, o3 + L);
            c40 = FloatVector.fromArray(S, c, o4);
            c41 = FloatVector.fromArray(S, c, o4 + L);
            c50 = FloatVector.fromArray(S, c, o5);
            c51 = FloatVector.fromArray(S, c, o5 + L);
        } else {
            c00 = FloatVector.zero(S);
            c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
            c40 = c00; c41 = c00; c50 = c00; c51 = c00;
        }
        int a1 = ao + ars, a2 = a1 + ars, a3 = a2 + ars, a4 = a3 + ars, a5 = a4 + ars;
        for (int p = 0; p < kk; p++) {
            int bi = bo + p * ldb, ap = p * acs;
            FloatVector b0 = FloatVector.fromArray(S, b, bi), b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector v = FloatVector.broadcast(S, a[ao + ap]);
            c00 = v.fma(b0, c00);
            c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, a[a1 + ap]);
            c10 = v.fma(b0, c10);
            c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, a[a2 + ap]);
            c20 = v.fma(b0, c20);
            c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, a[a3 + ap]);
            c30 = v.fma(b0, c30);
            c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, a[a4 + ap]);
            c40 = v.fma(b0, c40);
            c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, a[a5 + ap]);
            c50 = v.fma(b0, c50);
            c51 = v.fma(b1, c51);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + L);
        c10.intoArray(c, o1);
        c11.intoArray(c, o1 + L);
        c20.intoArray(c, o2);
        c21.intoArray(c, o2 + L);
        c30.intoArray(c, o3);
        c31.intoArray(c, o3 + L);
        c40.intoArray(c, o4);
        c41.intoArray(c, o4 + L);
        c50.intoArray(c, o5);
        c51.intoArray(c, o5 + L);
    }

    private static void rows4(int kk, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
                              float[] c, int co, int ldc, boolean accumulate) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        if (accumulate) {
            c00 = FloatVector.fromArray(S, c, co);
            c01 = FloatVector.fromArray(S, c, co + L);
            c10 = FloatVector.fromArray(S, c, co + ldc);
            c11 = FloatVector.fromArray(S, c, co + ldc + L);
            c20 = FloatVector.fromArray(S, c, co + 2 * ldc);
            c21 = FloatVector.fromArray(S, c, co + 2 * ldc + L);
            c30 = FloatVector.fromArray(S, c, co + 3 * ldc);
            c31 = FloatVector.fromArray(S, c, co + 3 * ldc + L);
        } else {
            c00 = FloatVector.zero(S);
            c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
        }
        int a1 = ao + ars, a2 = a1 + ars, a3 = a2 + ars;
        for (int p = 0; p < kk; p++) {
            int bi = bo + p * ldb, ap = p * acs;
            FloatVector b0 = FloatVector.fromArray(S, b, bi), b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector v = FloatVector.broadcast(S, a[ao + ap]);
            c00 = v.fma(b0, c00);
            c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, a[a1 + ap]);
            c10 = v.fma(b0, c10);
            c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, a[a2 + ap]);
            c20 = v.fma(b0, c20);
            c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, a[a3 + ap]);
            c30 = v.fma(b0, c30);
            c31 = v.fma(b1, c31);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + L);
        c10.intoArray(c, co + ldc);
        c11.intoArray(c, co + ldc + L);
        c20.intoArray(c, co + 2 * ldc);
        c21.intoArray(c, co + 2 * ldc + L);
        c30.intoArray(c, co + 3 * ldc);
        c31.intoArray(c, co + 3 * ldc + L);
    }

    private static void rows1(int kk, float[] a, int ao, int acs, float[] b, int bo, int ldb, float[] c, int co,
                              boolean accumulate) {
        FloatVector c0 = accumulate ? FloatVector.fromArray(S, c, co) : FloatVector.zero(S);
        FloatVector c1 = accumulate ? FloatVector.fromArray(S, c, co + L) : FloatVector.zero(S);
        for (int p = 0; p < kk; p++) {
            int bi = bo + p * ldb;
            FloatVector v = FloatVector.broadcast(S, a[ao + p * acs]);
            c0 = v.fma(FloatVector.fromArray(S, b, bi), c0);
            c1 = v.fma(FloatVector.fromArray(S, b, bi + L), c1);
        }
        c0.intoArray(c, co);
        c1.intoArray(c, co + L);
    }

    /** Scalar twin of {@link #gemm} (any {@code n}); bit-identical where both apply. */
    static void gemmScalar(int m, int n, int kk, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
                           float[] c, int co, int ldc, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float s = accumulate ? c[co + i * ldc + j] : 0f;
                for (int p = 0; p < kk; p++) s = Math.fma(a[ao + i * ars + p * acs], b[bo + p * ldb + j], s);
                c[co + i * ldc + j] = s;
            }
    }

    // exp(x) = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2), e^r by its degree-7 Taylor polynomial
    private static final float LOG2E = 1.44269504f, ROUND = 12582912f; // 1.5·2^23: adding it rounds to an integer
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float EXP_MIN = -87f, EXP_MAX = 88f;
    private static final float[] TAYLOR = {1f / 5040, 1f / 720, 1f / 120, 1f / 24, 1f / 6, 0.5f, 1f, 1f};

    /**
     * {@code e^x} in float from additions, multiplications and fused multiply-adds only, so that it gives the same bits
     * whichever way the JIT runs it (the Vector API's own EXP may differ between compiled and uncompiled code, and
     * training must repeat bit for bit). Within about 1e-6 relative of {@link Math#exp} on {@code [-87, 88]}; 0 below
     * −87, {@code e^88} above 88. Bit-identical to the scalar {@link #exp(float)}.
     */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> underflow = x.compare(VectorOperators.LT, EXP_MIN);
        x = x.min(EXP_MAX).max(EXP_MIN);
        FloatVector t = x.fma(LOG2E, ROUND), nf = t.sub(ROUND);
        FloatVector r = nf.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = nf.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(S, TAYLOR[0]);
        for (int i = 1; i < TAYLOR.length; i++) p = p.fma(r, FloatVector.broadcast(S, TAYLOR[i]));
        IntVector shift = t.reinterpretAsInts().sub(ROUND_BITS).lanewise(VectorOperators.LSHL, 23).reinterpretAsInts();
        FloatVector e = p.reinterpretAsInts().add(shift).reinterpretAsFloats();
        return e.blend(0f, underflow);
    }

    /** Scalar twin of {@link #exp(FloatVector)}; bit-identical. */
    static float exp(float x) {
        if (x < EXP_MIN) return 0f;
        x = Math.max(Math.min(x, EXP_MAX), EXP_MIN);
        float t = Math.fma(x, LOG2E, ROUND), nf = t - ROUND;
        float r = Math.fma(nf, -LN2_HI, x);
        r = Math.fma(nf, -LN2_LO, r);
        float p = TAYLOR[0];
        for (int i = 1; i < TAYLOR.length; i++) p = Math.fma(p, r, TAYLOR[i]);
        int shift = (Float.floatToRawIntBits(t) - ROUND_BITS) << 23;
        return Float.intBitsToFloat(Float.floatToRawIntBits(p) + shift);
    }

    /**
     * {@code x[o+i] = exp(x[o+i]·mul − sub)} for {@code i < n} ({@link #exp(FloatVector)}); returns their sum (lane-wise
     * partial sums added in a fixed order, {@link VectorKernels#sumLanes}).
     */
    static float expSum(float[] x, int o, int n, float mul, float sub) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = exp(FloatVector.fromArray(S, x, o + i).mul(mul).sub(sub));
            e.intoArray(x, o + i);
            acc = acc.add(e);
        }
        float sum = VectorKernels.sumLanes(acc);
        for (; i < n; i++) {
            float e = exp(x[o + i] * mul - sub);
            x[o + i] = e;
            sum += e;
        }
        return sum;
    }

    /** Scalar twin of {@link #expSum}: the same elements bit for bit, the sum in double. */
    static float expSumScalar(float[] x, int o, int n, float mul, float sub) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = exp(x[o + i] * mul - sub);
            x[o + i] = e;
            sum += e;
        }
        return (float) sum;
    }

    /** {@code x[o+i] = p[po+i]·(x[o+i] − delta)·scale}: the score gradient from the probability gradient. */
    static void scoreGrad(float[] p, int po, float[] x, int o, int n, float delta, float scale) {
        int i = 0;
        for (; i <= n - L; i += L)
            FloatVector.fromArray(S, p, po + i).mul(FloatVector.fromArray(S, x, o + i).sub(delta)).mul(scale)
                    .intoArray(x, o + i);
        for (; i < n; i++) x[o + i] = p[po + i] * (x[o + i] - delta) * scale;
    }

    /** Scalar twin of {@link #scoreGrad}; bit-identical. */
    static void scoreGradScalar(float[] p, int po, float[] x, int o, int n, float delta, float scale) {
        for (int i = 0; i < n; i++) x[o + i] = p[po + i] * (x[o + i] - delta) * scale;
    }
}
