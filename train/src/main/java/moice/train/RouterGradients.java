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
}
