package moice.tensor;

/**
 * Plain-loop twins of {@link VectorKernels} with the same signatures and float32 semantics, accumulating strictly
 * left to right. They are the reference the SIMD kernels are tested against, and the fallback for debugging.
 */
public final class ScalarKernels {
    private ScalarKernels() {}

    /** {@code Σ_i a[ao+i]·b[bo+i]} for {@code i < n}, accumulated in float. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** {@code y[yo+i] += alpha·x[xo+i]}. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        for (int i = 0; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /** {@code x[xo+i] *= s}. */
    public static void scale(float[] x, int xo, int n, float s) {
        for (int i = 0; i < n; i++) x[xo + i] *= s;
    }

    /** {@code dst[dso+i] += src[so+i]}. */
    public static void add(float[] dst, int dso, float[] src, int so, int n) {
        for (int i = 0; i < n; i++) dst[dso + i] += src[so + i];
    }

    /**
     * RMSNorm as HF {@code LlamaRMSNorm} computes it in float32: {@code inv = 1/sqrt(mean(x²) + eps)},
     * {@code out[oo+i] = (x[xo+i]·inv)·weight[i]} (normalise first, then weight). {@code out} may alias {@code x}.
     */
    public static void rmsnorm(float[] x, int xo, float[] weight, float[] out, int oo, int n, float eps) {
        float ss = 0;
        for (int i = 0; i < n; i++) ss += x[xo + i] * x[xo + i];
        float inv = rmsInverse(ss, n, eps);
        for (int i = 0; i < n; i++) out[oo + i] = (x[xo + i] * inv) * weight[i];
    }

    /** {@code 1/sqrt(ss/n + eps)} with every step rounded to float, as torch's float32 {@code rsqrt(mean + eps)}. */
    static float rmsInverse(float sumOfSquares, int n, float eps) {
        return 1f / (float) Math.sqrt(sumOfSquares / n + eps);
    }

    /** SwiGLU: {@code out[oo+i] = silu(gate[go+i])·up[uo+i]} with {@code silu(g) = g / (1 + exp(-g))}. */
    public static void siluMul(float[] gate, int go, float[] up, int uo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[go + i];
            out[oo + i] = g / (1f + Exp.exp(-g)) * up[uo + i];
        }
    }

    /** Largest of {@code x[o .. o+n)} ({@link Math#max} semantics: NaN wins); {@code -inf} when {@code n == 0}. */
    public static float max(float[] x, int o, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, x[o + i]);
        return m;
    }

    /** In-place softmax of {@code x[o .. o+n)}: {@code exp(x - max) / Σ exp(x - max)} in float32. */
    public static void softmax(float[] x, int o, int n) {
        if (n == 0) return;
        float m = max(x, o, n);
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = Exp.exp(x[o + i] - m);
            x[o + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < n; i++) x[o + i] *= inv;
    }

    /**
     * RoPE on one head vector in HF "rotate_half" layout: with {@code h = headDim/2}, {@code x1 = x[0..h)},
     * {@code x2 = x[h..2h)} and frequency {@code i}: {@code x1' = x1·cos − x2·sin}, {@code x2' = x2·cos + x1·sin},
     * where {@code cos = cos[co+i]}, {@code sin = sin[co+i]}.
     */
    public static void rotateHalf(float[] x, int xo, float[] cos, float[] sin, int co, int headDim) {
        int h = headDim / 2;
        for (int i = 0; i < h; i++) {
            float x1 = x[xo + i], x2 = x[xo + h + i], c = cos[co + i], s = sin[co + i];
            x[xo + i] = x1 * c - x2 * s;
            x[xo + h + i] = x2 * c + x1 * s;
        }
    }

    /** RoPE on one head vector in interleaved (GGUF llama) layout: pair {@code (2i, 2i+1)} uses frequency {@code i}. */
    public static void rotateInterleaved(float[] x, int xo, float[] cos, float[] sin, int co, int headDim) {
        int h = headDim / 2;
        for (int i = 0; i < h; i++) {
            float x1 = x[xo + 2 * i], x2 = x[xo + 2 * i + 1], c = cos[co + i], s = sin[co + i];
            x[xo + 2 * i] = x1 * c - x2 * s;
            x[xo + 2 * i + 1] = x2 * c + x1 * s;
        }
    }

    /** Scalar twin of {@link Matrix#matmul(float[], int, int, float[], int, int)}: {@code out = x·Wᵀ}, one row at a time. */
    public static void matmul(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        Gemm.checkArguments(w, x, xOff, T, out, outOff, outStride);
        int rows = w.rows(), cols = w.cols();
        WeightFormat format = w.type().format();
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            format.dequantizeRowScalar(w.data(), r * w.rowBytes(), cols, row, 0);
            for (int t = 0; t < T; t++) out[outOff + t * outStride + r] = dot(row, 0, x, xOff + t * cols, cols);
        }
    }
}
