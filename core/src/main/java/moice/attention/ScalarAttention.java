package moice.attention;

/**
 * Plain twin of {@link CausalAttention}: for each query, all scores, one softmax, one weighted sum. O(T) memory per
 * query; used by tests as the reference.
 */
public final class ScalarAttention {
    private ScalarAttention() {}

    /** Same contract as {@link CausalAttention#run}, without tiling. */
    public static void run(AttentionShape shape, float[] qRot, int start, int t0, int t1, int kvHead,
                           float[] keys, float[] values, Rope rope, float scale, float[] out) {
        int d = shape.headDim(), group = shape.groupSize(), qDim = shape.qDim(), kvDim = shape.kvDim();
        float[] k = new float[d];
        for (int t = t0; t < t1; t++) {
            int pos = start + t;
            int first = shape.firstVisible(pos);
            for (int h = kvHead * group; h < (kvHead + 1) * group; h++) {
                double[] s = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = first; j <= pos; j++) {
                    System.arraycopy(keys, j * kvDim + kvHead * d, k, 0, d);
                    RopeKernels.rotateScalar(k, 0, j, rope, shape.layout());
                    float dot = 0;
                    for (int c = 0; c < d; c++) dot += qRot[t * qDim + h * d + c] * k[c];
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                double total = 0;
                for (int j = first; j <= pos; j++) total += (s[j] = Math.exp(s[j] - max));
                for (int c = 0; c < d; c++) {
                    double o = 0;
                    for (int j = first; j <= pos; j++) o += s[j] * values[j * kvDim + kvHead * d + c];
                    out[t * qDim + h * d + c] = (float) (o / total);
                }
            }
        }
    }
}
