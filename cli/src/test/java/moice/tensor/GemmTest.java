package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Gemm} (both the decode and the prefill path) against {@link ScalarKernels#matmul} and against a
 * double-precision product of the dequantised weights. Each output is a K-term dot product, so two float evaluations
 * in different orders differ by at most {@code 2·γ(K)·Σ_k |W[r,k]·x[t,k]|} (see {@link VectorKernelsTest}).
 */
class GemmTest {
    static final int[] ROWS = {1, 5, 6, 7, 13, 64, 100};
    static final int[] COLS = {1, 7, 63, 64, 100, 576};
    static final int[] TOKENS = {1, 2, 3, 5, 17, 64};

    @Test
    void allFormatsAndShapesMatchTheScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(11);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : TestWeights.PLAIN)
                for (int rows : ROWS)
                    for (int cols : COLS) {
                        Matrix w = TestWeights.random(type, rows, cols, rnd, arena);
                        float[] ref = TestWeights.reference(w);
                        for (int T : TOKENS) check(w, ref, T, rnd);
                    }
        }
    }

    @Test
    void largerShapesUseSeveralPanelsAndTokenSplits() {
        SplittableRandom rnd = new SplittableRandom(12);
        try (Arena arena = Arena.ofShared()) {
            int[][] shapes = {{300, 576, 40}, {577, 129, 33}, {13, 12_007, 9}, {2, 64, 200}, {1000, 8, 4}, {250, 1536, 21}};
            for (DType type : TestWeights.PLAIN)
                for (int[] s : shapes) {
                    Matrix w = TestWeights.random(type, s[0], s[1], rnd, arena);
                    check(w, TestWeights.reference(w), s[2], rnd);
                }
        }
    }

    /** Runs the SIMD and scalar GEMM on random x with offsets and a wider output stride, and compares. */
    private static void check(Matrix w, float[] ref, int T, SplittableRandom rnd) {
        int rows = w.rows(), cols = w.cols();
        int xOff = rnd.nextInt(4), outOff = rnd.nextInt(5), stride = rows + rnd.nextInt(3);
        float[] x = new float[xOff + T * cols + 2];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        int outLen = outOff + (T - 1) * stride + rows + 3;
        float[] simd = new float[outLen], scalar = new float[outLen];
        Arrays.fill(simd, 42f);
        Arrays.fill(scalar, 42f);
        w.matmul(x, xOff, T, simd, outOff, stride);
        ScalarKernels.matmul(w, x, xOff, T, scalar, outOff, stride);
        double gamma = VectorKernelsTest.gamma(cols);
        String what = w + " T=" + T;
        for (int t = 0; t < T; t++)
            for (int r = 0; r < rows; r++) {
                double exact = 0, abs = 0;
                for (int k = 0; k < cols; k++) {
                    double p = (double) ref[r * cols + k] * x[xOff + t * cols + k];
                    exact += p;
                    abs += Math.abs(p);
                }
                int o = outOff + t * stride + r;
                assertTrue(Math.abs(simd[o] - scalar[o]) <= 2 * gamma * abs, what + " t=" + t + " r=" + r + " simd "
                        + simd[o] + " scalar " + scalar[o]);
                assertTrue(Math.abs(scalar[o] - exact) <= gamma * abs, what + " scalar vs exact t=" + t + " r=" + r);
            }
        // everything outside the written slice is untouched
        for (int i = 0; i < outLen; i++) {
            int rel = i - outOff;
            boolean written = rel >= 0 && rel / stride < T && rel % stride < rows;
            if (!written) {
                assertEquals(42f, simd[i], what + " wrote outside the slice at " + i);
                assertEquals(42f, scalar[i], what + " scalar wrote outside the slice at " + i);
            }
        }
    }

    @Test
    void plainMatmulIsTheDenseSlice() {
        SplittableRandom rnd = new SplittableRandom(13);
        try (Arena arena = Arena.ofShared()) {
            Matrix w = TestWeights.random(DType.BF16, 9, 20, rnd, arena);
            float[] x = new float[7 * 20];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[] a = new float[7 * 9], b = new float[7 * 9];
            w.matmul(x, 7, a);
            w.matmul(x, 0, 7, b, 0, 9);
            assertArrayEquals(a, b);
        }
    }

    @Test
    void handComputedProduct() {
        try (Arena arena = Arena.ofShared()) {
            var seg = arena.allocate(2 * 3 * 2);
            short[] halves = {0x3c00, 0x4000, (short) 0xbc00, 0x3800, 0x0000, 0x4200}; // [[1, 2], [-1, 0.5], [0, 3]]
            for (int i = 0; i < 6; i++) seg.set(TestWeights.LE_SHORT, 2L * i, halves[i]);
            Matrix w = new Matrix("w", DType.F16, 3, 2, seg);
            float[] x = {1, 1, 2, -4, 0.5f, 0.25f, 3, 3, 1, 0}; // 5 tokens
            float[] out = new float[15];
            w.matmul(x, 5, out);
            assertArrayEquals(new float[] {3, -0.5f, 3, -6, -4, -12, 1, -0.375f, 0.75f, 9, -1.5f, 9, 1, -1, 0}, out);
            float[] one = new float[3];
            w.matmul(x, 2, 1, one, 0, 3);
            assertArrayEquals(new float[] {-6, -4, -12}, one);
        }
    }

    @Test
    void badSlicesAreRejected() {
        try (Arena arena = Arena.ofShared()) {
            Matrix w = TestWeights.random(DType.F32, 4, 8, new SplittableRandom(1), arena);
            assertThrows(IllegalArgumentException.class, () -> w.matmul(new float[15], 2, new float[8]));
            assertThrows(IllegalArgumentException.class, () -> w.matmul(new float[16], 2, new float[7]));
            assertThrows(IllegalArgumentException.class, () -> w.matmul(new float[16], 1, 2, new float[20], 0, 4));
            assertThrows(IllegalArgumentException.class, () -> w.matmul(new float[16], 0, 2, new float[20], 0, 3));
            assertThrows(IllegalArgumentException.class, () -> w.matmul(new float[16], 0, -1, new float[20], 0, 4));
            w.matmul(new float[0], 0, new float[0]);
        }
    }
}
