package moice.tensor;

/** Block GEMM of stored-format weights times float32 activations. Placeholder scalar version; see ScalarKernels. */
final class Gemm {
    private Gemm() {}

    static void matmul(Matrix w, float[] x, int T, float[] out) {
        int rows = w.rows(), cols = w.cols();
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.row(r, row, 0);
            for (int t = 0; t < T; t++) {
                float s = 0;
                int xo = t * cols;
                for (int k = 0; k < cols; k++) s += row[k] * x[xo + k];
                out[t * rows + r] = s;
            }
        }
    }
}
