package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Matrix#matmul} on the block-quantised formats (the fused single-token path, the buffered decode path and the
 * prefill panels) against {@link ScalarKernels#matmul} and a double-precision product of the scalar-dequantised
 * weights. The weights are the same floats on every path, so outputs differ only by summation order: at most
 * {@code 2·γ(K)·Σ_k |W[r,k]·x[t,k]|} apart (see {@link GemmTest}).
 */
class QuantGemmTest {
    static final int[] ROWS = {1, 5, 6, 7, 13, 64, 100};
    static final int[] TOKENS = {1, 2, 3, 5, 17, 64};

    static int[] columnCounts(DType type) {
        return type.blockSize == 32 ? new int[] {32, 96, 576} : new int[] {256, 768};
    }

    @Test
    void everyFormatShapeAndTokenCountMatchesTheScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(31);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : QuantTestData.TYPES)
                for (int rows : ROWS)
                    for (int cols : columnCounts(type)) {
                        Matrix w = QuantTestData.matrix(type, rows, cols, rnd, arena);
                        float[] ref = TestWeights.reference(w);
                        for (int T : TOKENS) check(w, ref, T, rnd);
                    }
        }
    }

    @Test
    void modelShapesUseSeveralPanelsThreadsAndTokenSplits() {
        SplittableRandom rnd = new SplittableRandom(32);
        try (Arena arena = Arena.ofShared()) {
            int[][] shapes = {{300, 576, 40}, {577, 1536, 1}, {250, 1536, 21}, {1537, 576, 1}, {97, 576, 4}};
            for (DType type : QuantTestData.TYPES)
                for (int[] s : shapes) {
                    int cols = (s[1] + type.blockSize - 1) / type.blockSize * type.blockSize;
                    Matrix w = QuantTestData.matrix(type, s[0], cols, rnd, arena);
                    check(w, TestWeights.reference(w), s[2], rnd);
                }
        }
    }

    /** As {@code GemmTest.check}: offsets, a wider output stride, untouched elements outside the slice. */
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
                assertTrue(Math.abs(simd[o] - scalar[o]) <= 2 * gamma * abs,
                        what + " t=" + t + " r=" + r + " simd " + simd[o] + " scalar " + scalar[o]);
                assertTrue(Math.abs(simd[o] - exact) <= gamma * abs, what + " simd vs exact t=" + t + " r=" + r);
                assertTrue(Math.abs(scalar[o] - exact) <= gamma * abs, what + " scalar vs exact t=" + t + " r=" + r);
            }
        for (int i = 0; i < outLen; i++) {
            int rel = i - outOff;
            boolean written = rel >= 0 && rel / stride < T && rel % stride < rows;
            if (!written) assertEquals(42f, simd[i], what + " wrote outside the slice at " + i);
        }
    }
}
