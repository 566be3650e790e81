package moice.train;

import moice.attention.Routers;

/**
 * Gradients (or any other per-parameter state, such as AdamW moments) laid out exactly like the gate matrices of a
 * {@link Routers}: per layer {@code gate1 [N, d]}, {@code gate2 [N, N]}, {@code gate3 [N, d]}, row-major.
 */
public record RouterGradients(float[][] gate1, float[][] gate2, float[][] gate3) {

    /** All zeros, shaped like {@code routers}. */
    public static RouterGradients zerosLike(Routers routers) {
        int layers = routers.numLayers();
        float[][] g1 = new float[layers][], g2 = new float[layers][], g3 = new float[layers][];
        for (int l = 0; l < layers; l++) {
            g1[l] = new float[routers.gate1()[l].length];
            g2[l] = new float[routers.gate2()[l].length];
            g3[l] = new float[routers.gate3()[l].length];
        }
        return new RouterGradients(g1, g2, g3);
    }

    public int numLayers() { return gate1.length; }

    /** Sets every value to zero. */
    public void clear() {
        for (float[][] gates : new float[][][]{gate1, gate2, gate3})
            for (float[] g : gates) java.util.Arrays.fill(g, 0f);
    }

    /** Euclidean norm over all values (double accumulation). */
    public double norm() {
        double s = 0;
        for (float[][] gates : new float[][][]{gate1, gate2, gate3})
            for (float[] g : gates) for (float v : g) s += (double) v * v;
        return Math.sqrt(s);
    }

    /** Number of values (all layers, all three gates). */
    public int size() {
        int n = 0;
        for (float[][] gates : new float[][][]{gate1, gate2, gate3}) for (float[] g : gates) n += g.length;
        return n;
    }

    /**
     * Adds every value into {@code sum} (double), in a fixed flat order: per layer gate1, gate2, gate3. Batch
     * gradients are summed this way, per sequence, so that a local run and a cluster run add the same float values and
     * differ only in the order of the (double) additions.
     */
    public void addTo(double[] sum) {
        if (sum.length != size()) throw new IllegalArgumentException(sum.length + " sums for " + size() + " values");
        int i = 0;
        for (int l = 0; l < numLayers(); l++)
            for (float[] g : new float[][]{gate1[l], gate2[l], gate3[l]})
                for (float v : g) sum[i++] += v;
    }

    /** Sets every value to {@code values} (the flat order of {@link #addTo}) rounded to float. */
    public void setFrom(double[] values) {
        if (values.length != size()) throw new IllegalArgumentException(values.length + " values for " + size());
        int i = 0;
        for (int l = 0; l < numLayers(); l++)
            for (float[] g : new float[][]{gate1[l], gate2[l], gate3[l]})
                for (int j = 0; j < g.length; j++) g[j] = (float) values[i++];
    }
}
