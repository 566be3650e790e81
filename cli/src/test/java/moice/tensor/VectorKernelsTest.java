package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Differential tests: {@link VectorKernels} against {@link ScalarKernels} on random inputs, sizes around the vector
 * length (tails) and non-zero offsets. Element-wise kernels must be bit-identical; reductions only differ by the order
 * of float additions, so they are held to the classical bound for recursive summation: two orders of an n-term sum
 * differ by at most {@code 2·γ(n)·Σ|terms|}, {@code γ(n) = n·u/(1 − n·u)}, {@code u = 2^-24}.
 */
class VectorKernelsTest {
    static final int[] SIZES = {1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 576, 1000};
    static final double U = 0x1p-24;

    static double gamma(int n) {
        return n * U / (1 - n * U);
    }

    static float[] random(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    @Test
    void dotMatchesScalarAndExactWithinSummationBound() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int n : SIZES) {
            int ao = 1 + rnd.nextInt(5), bo = rnd.nextInt(7);
            float[] a = random(rnd, ao + n + 3, 2), b = random(rnd, bo + n + 2, 3);
            double exact = 0, abs = 0;
            for (int i = 0; i < n; i++) {
                exact += (double) a[ao + i] * b[bo + i];
                abs += Math.abs((double) a[ao + i] * b[bo + i]);
            }
            float v = VectorKernels.dot(a, ao, b, bo, n), s = ScalarKernels.dot(a, ao, b, bo, n);
            assertTrue(Math.abs(v - s) <= 2 * gamma(n) * abs, "dot n=" + n + " vector " + v + " scalar " + s);
            assertTrue(Math.abs(v - exact) <= gamma(n) * abs, "dot n=" + n + " vector " + v + " exact " + exact);
            assertTrue(Math.abs(s - exact) <= gamma(n) * abs, "dot n=" + n + " scalar " + s + " exact " + exact);
        }
        assertEquals(0f, VectorKernels.dot(new float[4], 2, new float[4], 1, 0));
    }

    @Test
    void elementwiseKernelsAreBitIdentical() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (int n : SIZES) {
            int xo = 1 + rnd.nextInt(4), yo = rnd.nextInt(6);
            float[] x = random(rnd, xo + n + 5, 4), y = random(rnd, yo + n + 1, 4);
            float alpha = (float) rnd.nextDouble(-3, 3);

            float[] yv = y.clone(), ys = y.clone();
            VectorKernels.axpy(alpha, x, xo, yv, yo, n);
            ScalarKernels.axpy(alpha, x, xo, ys, yo, n);
            assertArrayEquals(ys, yv, "axpy n=" + n);

            float[] xv = x.clone(), xs = x.clone();
            VectorKernels.scale(xv, xo, n, alpha);
            ScalarKernels.scale(xs, xo, n, alpha);
            assertArrayEquals(xs, xv, "scale n=" + n);

            yv = y.clone();
            ys = y.clone();
            VectorKernels.add(yv, yo, x, xo, n);
            ScalarKernels.add(ys, yo, x, xo, n);
            assertArrayEquals(ys, yv, "add n=" + n);
            // elements outside the slice are untouched
            assertEquals(y[yo + n], yv[yo + n]);

            assertEquals(ScalarKernels.max(x, xo, n), VectorKernels.max(x, xo, n), "max n=" + n);
            float[] peak = x.clone();
            peak[xo + n - 1] = 1e9f;
            assertEquals(1e9f, VectorKernels.max(peak, xo, n));
        }
        assertEquals(Float.NEGATIVE_INFINITY, VectorKernels.max(new float[3], 1, 0));
        float[] withNaN = {1, 2, Float.NaN, 3, 4, 5, 6, 7, 8, 9, 10};
        assertTrue(Float.isNaN(VectorKernels.max(withNaN, 0, withNaN.length)));
    }

    @Test
    void rmsnormMatchesScalarWithinSumOfSquaresBound() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int n : SIZES) {
            int xo = 2 + rnd.nextInt(3), oo = 1 + rnd.nextInt(3);
            float[] x = random(rnd, xo + n, 5), w = random(rnd, n, 2);
            float[] ov = new float[oo + n + 2], os = new float[oo + n + 2];
            VectorKernels.rmsnorm(x, xo, w, ov, oo, n, 1e-5f);
            ScalarKernels.rmsnorm(x, xo, w, os, oo, n, 1e-5f);
            // all squares are positive: the two sums differ by ≤ 2γ(n) relative; 1/sqrt halves it; 3 more roundings
            double tol = gamma(n) + 4 * U;
            for (int i = 0; i < n; i++)
                assertTrue(Math.abs(ov[oo + i] - os[oo + i]) <= tol * Math.abs(os[oo + i]), "rmsnorm n=" + n + " i=" + i);
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double) x[xo + i] * x[xo + i];
            double inv = 1 / Math.sqrt(ss / n + 1e-5);
            for (int i = 0; i < n; i++) {
                double exact = x[xo + i] * inv * w[i];
                assertTrue(Math.abs(os[oo + i] - exact) <= (gamma(n) + 6 * U) * Math.abs(exact) + 1e-30, "exact n=" + n);
            }
        }
        // in place (out aliases x)
        float[] x = random(new SplittableRandom(9), 70, 1), w = random(new SplittableRandom(10), 65, 1);
        float[] expected = new float[70];
        ScalarKernels.rmsnorm(x, 5, w, expected, 5, 65, 1e-6f);
        ScalarKernels.rmsnorm(x, 5, w, x, 5, 65, 1e-6f);
        assertArrayEquals(Arrays.copyOfRange(expected, 5, 70), Arrays.copyOfRange(x, 5, 70));
    }

    @Test
    void siluMulIsBitIdenticalToScalarAndAccurate() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int n : SIZES) {
            int go = 1 + rnd.nextInt(3), uo = rnd.nextInt(3), oo = 3;
            float[] gate = random(rnd, go + n, 12), up = random(rnd, uo + n, 3);
            if (n > 4) {
                gate[go] = -100f; // exp overflows to +inf: silu is -0
                gate[go + 1] = 100f;
                gate[go + 2] = 0f;
                gate[go + 3] = -88.5f;
            }
            float[] ov = new float[oo + n], os = new float[oo + n];
            VectorKernels.siluMul(gate, go, up, uo, ov, oo, n);
            ScalarKernels.siluMul(gate, go, up, uo, os, oo, n);
            // both use Exp (the same bits); vs the exact value: Exp ≤ 4u relative, then 1 + e, the division and the
            // product add ≤ 3u (first order); results below float's normal range are compared absolutely
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(os[oo + i]), Float.floatToRawIntBits(ov[oo + i]),
                        "silu n=" + n + " g=" + gate[go + i] + " vector " + ov[oo + i] + " scalar " + os[oo + i]);
                double g = gate[go + i], exact = g / (1 + Math.exp(-g)) * up[uo + i];
                assertTrue(Math.abs(os[oo + i] - exact) <= 8 * U * Math.abs(exact) + Float.MIN_NORMAL, "silu exact g=" + g);
            }
        }
    }

    @Test
    void softmaxMatchesScalarAndSumsToOne() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int n : SIZES) {
            int o = 1 + rnd.nextInt(5);
            float[] x = random(rnd, o + n + 2, 20);
            float[] v = x.clone(), s = x.clone();
            VectorKernels.softmax(v, o, n);
            ScalarKernels.softmax(s, o, n);
            // the exps are the same bits (Exp); the two sums of positive terms differ by ≤ 2γ(n)·sum, then 1/sum and the
            // product round once each in both
            double tol = 2 * gamma(n) + 4 * U;
            double total = 0;
            for (int i = 0; i < n; i++) {
                assertTrue(Math.abs(v[o + i] - s[o + i]) <= tol * s[o + i] + 1e-38, "softmax n=" + n + " i=" + i);
                total += v[o + i];
            }
            assertEquals(1.0, total, gamma(n) + 4 * U, "softmax sum n=" + n);
            assertEquals(x[o - 1], v[o - 1]);
            assertEquals(x[o + n], v[o + n]);
        }
    }

    @Test
    void ropeRotationsAreBitIdenticalAndMatchTheFormula() {
        SplittableRandom rnd = new SplittableRandom(6);
        for (int headDim : new int[] {2, 6, 14, 16, 18, 32, 34, 64, 128, 130}) {
            int h = headDim / 2, xo = 1 + rnd.nextInt(5), co = rnd.nextInt(4);
            float[] x = random(rnd, xo + headDim + 3, 3);
            float[] cos = new float[co + h], sin = new float[co + h];
            for (int i = 0; i < h; i++) {
                double angle = rnd.nextDouble(-10, 10);
                cos[co + i] = (float) Math.cos(angle);
                sin[co + i] = (float) Math.sin(angle);
            }
            float[] v = x.clone(), s = x.clone();
            VectorKernels.rotateHalf(v, xo, cos, sin, co, headDim);
            ScalarKernels.rotateHalf(s, xo, cos, sin, co, headDim);
            assertArrayEquals(s, v, "rotateHalf d=" + headDim);
            for (int i = 0; i < h; i++) {
                assertEquals(x[xo + i] * cos[co + i] - x[xo + h + i] * sin[co + i], s[xo + i]);
                assertEquals(x[xo + h + i] * cos[co + i] + x[xo + i] * sin[co + i], s[xo + h + i]);
            }

            v = x.clone();
            s = x.clone();
            VectorKernels.rotateInterleaved(v, xo, cos, sin, co, headDim);
            ScalarKernels.rotateInterleaved(s, xo, cos, sin, co, headDim);
            assertArrayEquals(s, v, "rotateInterleaved d=" + headDim);
            for (int i = 0; i < h; i++) {
                assertEquals(x[xo + 2 * i] * cos[co + i] - x[xo + 2 * i + 1] * sin[co + i], s[xo + 2 * i]);
                assertEquals(x[xo + 2 * i + 1] * cos[co + i] + x[xo + 2 * i] * sin[co + i], s[xo + 2 * i + 1]);
            }
            assertEquals(x[xo - 1], v[xo - 1]);
            assertEquals(x[xo + headDim], v[xo + headDim]);
        }
    }
}
