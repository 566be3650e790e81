package moice.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moice.tensor.Exp;
import moice.tensor.VectorKernels;

/**
 * Small dense kernels for training: a register-tiled GEMM on float arrays with strided operands (tiled attention,
 * {@link AttentionGrad}), and a softmax-style exp-and-sum on {@link Exp}. Each has a plain scalar twin ({@code ...Scalar}) for tests.
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

    /**
     * {@code x[o+i] = exp(x[o+i]·mul − sub)} for {@code i < n} ({@link Exp#exp(FloatVector)}); returns their sum (lane-wise
     * partial sums added in a fixed order, {@link VectorKernels#sumLanes}).
     */
    static float expSum(float[] x, int o, int n, float mul, float sub) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, o + i).mul(mul).sub(sub));
            e.intoArray(x, o + i);
            acc = acc.add(e);
        }
        float sum = VectorKernels.sumLanes(acc);
        for (; i < n; i++) {
            float e = Exp.exp(x[o + i] * mul - sub);
            x[o + i] = e;
            sum += e;
        }
        return sum;
    }

    /** Scalar twin of {@link #expSum}: the same elements bit for bit, the sum in double. */
    static float expSumScalar(float[] x, int o, int n, float mul, float sub) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = Exp.exp(x[o + i] * mul - sub);
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
