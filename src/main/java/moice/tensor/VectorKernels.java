package moice.tensor;

/** TEMPORARY scalar stand-in until the kernels branch lands (same API). */
public final class VectorKernels {
    private VectorKernels() {}

    public static void rmsnorm(float[] x, int xo, float[] weight, float[] out, int oo, int n, float eps) {
        float ss = 0;
        for (int i = 0; i < n; i++) ss += x[xo + i] * x[xo + i];
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) out[oo + i] = weight[i] * (x[xo + i] * inv);
    }

    public static void siluMul(float[] gate, int go, float[] up, int uo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[go + i];
            out[oo + i] = (float) (g / (1 + Math.exp(-g))) * up[uo + i];
        }
    }

    public static void add(float[] dst, int dso, float[] src, int so, int n) {
        for (int i = 0; i < n; i++) dst[dso + i] += src[so + i];
    }
}
