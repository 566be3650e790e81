package moice.attention;

/**
 * The MoICE routers of a model: the RoPE bases (the in-context experts), how many experts each routing event keeps,
 * and per layer the three bias-free gate matrices, row-major in PyTorch {@code Linear} layout {@code [out, in]}:
 * {@code gate1[l]} and {@code gate3[l]} are {@code [N, headDim]}, {@code gate2[l]} is {@code [N, N]}.
 *
 * <p>The constructor checks internal consistency (array sizes, {@code 1 <= topK <= N}, finite positive bases,
 * finite weights) and throws {@link IllegalArgumentException}; files are validated with named errors by
 * {@code moice.io.RouterFile}. Equal bases are allowed here (they make invariant checks possible); the file reader
 * rejects them. Arrays are shared, not copied: treat them as read-only, except for a trainer that owns the instance.
 *
 * @param bases   RoPE bases {@code B_1..B_N}; {@code B_1} rotates the router input
 * @param topK    experts kept per (token, head)
 * @param headDim per-head width {@code d}
 * @param gate1   per layer {@code W1 [N, d]}
 * @param gate2   per layer {@code W2 [N, N]}
 * @param gate3   per layer {@code W3 [N, d]}
 */
public record Routers(double[] bases, int topK, int headDim, float[][] gate1, float[][] gate2, float[][] gate3) {

    public Routers {
        int n = bases.length;
        if (n < 1) throw new IllegalArgumentException("no bases");
        if (n > 64) throw new IllegalArgumentException(n + " bases; at most 64 are supported");
        for (double b : bases)
            if (!(b > 0) || Double.isInfinite(b)) throw new IllegalArgumentException("base " + b + " is not positive");
        if (topK < 1 || topK > n) throw new IllegalArgumentException("top_k " + topK + " outside [1, " + n + "]");
        if (headDim < 2 || headDim % 2 != 0) throw new IllegalArgumentException("head dim " + headDim);
        int layers = gate1.length;
        if (gate2.length != layers || gate3.length != layers)
            throw new IllegalArgumentException("gate arrays disagree on the layer count");
        for (int l = 0; l < layers; l++) {
            check(gate1[l], n * headDim, l, "gate_1");
            check(gate2[l], n * n, l, "gate_2");
            check(gate3[l], n * headDim, l, "gate_3");
        }
    }

    private static void check(float[] w, int size, int layer, String name) {
        if (w.length != size)
            throw new IllegalArgumentException("layer " + layer + " " + name + ": " + w.length + " values, expected " + size);
        for (float v : w)
            if (!Float.isFinite(v)) throw new IllegalArgumentException("layer " + layer + " " + name + ": non-finite weight");
    }

    /** Number of experts (bases) {@code N}. */
    public int numExperts() { return bases.length; }

    public int numLayers() { return gate1.length; }

    /** Router parameters per layer: {@code 2·d·N + N²}. */
    public int parametersPerLayer() {
        int n = numExperts();
        return 2 * headDim * n + n * n;
    }

    /** The checkpoint tensor name of gate {@code which} (1, 2 or 3) of {@code layer}. */
    public static String tensorName(int layer, int which) {
        return "model.layers." + layer + ".self_attn.gate_" + which + ".weight";
    }

    /**
     * The router of {@code layer} on one input {@code x} ({@code d} values): {@code a = W1·x}, {@code b = W3·x}
     * (written to {@code a}, {@code b}, {@code N} values each, float32 from double sums), then
     * {@code z = W2·(silu(a) ⊙ b)} into {@code z}. The one definition of the router's arithmetic, shared by
     * inference and training so both route identically.
     */
    public void logits(int layer, float[] x, int xo, float[] a, float[] b, float[] z) {
        int d = headDim, n = numExperts();
        float[] w1 = gate1[layer], w2 = gate2[layer], w3 = gate3[layer];
        for (int i = 0; i < n; i++) {
            double sa = 0, sb = 0;
            for (int c = 0; c < d; c++) {
                sa += (double) w1[i * d + c] * x[xo + c];
                sb += (double) w3[i * d + c] * x[xo + c];
            }
            a[i] = (float) sa;
            b[i] = (float) sb;
        }
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < n; c++) s += (double) w2[i * n + c] * hidden(a[c], b[c]);
            z[i] = (float) s;
        }
    }

    /** {@code silu(a)·b}, the router's hidden activation, in float32. */
    public static float hidden(float a, float b) {
        return (float) (a / (1 + StrictMath.exp(-a))) * b;
    }

    /**
     * Writes the K largest of {@code z[zo .. zo+N)} (descending; among equal logits the lower expert index first)
     * to {@code experts[off ..]} and their softmax weights renormalised over the kept K,
     * {@code exp(z_j - max) / Σ_kept exp(z_i - max)}, to {@code weights[off ..]}.
     */
    public static void selectTopK(float[] z, int zo, int n, int k, int[] experts, float[] weights, int off) {
        long used = 0;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int i = 0; i < n; i++)
                if ((used & (1L << i)) == 0 && (best < 0 || z[zo + i] > z[zo + best])) best = i;
            used |= 1L << best;
            experts[off + r] = best;
        }
        double max = z[zo + experts[off]], total = 0;
        for (int r = 0; r < k; r++) total += StrictMath.exp(z[zo + experts[off + r]] - max);
        for (int r = 0; r < k; r++) weights[off + r] = (float) (StrictMath.exp(z[zo + experts[off + r]] - max) / total);
    }

    /**
     * Routers drawn from normal(0, std) (the official initialisation uses std 0.02), one seeded stream over layers
     * in order, gate_1, gate_2, gate_3 each row-major.
     */
    public static Routers random(double[] bases, int topK, int headDim, int layers, double std, long seed) {
        java.util.Random rnd = new java.util.Random(seed);
        int n = bases.length;
        float[][] g1 = new float[layers][], g2 = new float[layers][], g3 = new float[layers][];
        for (int l = 0; l < layers; l++) {
            g1[l] = gaussian(rnd, n * headDim, std);
            g2[l] = gaussian(rnd, n * n, std);
            g3[l] = gaussian(rnd, n * headDim, std);
        }
        return new Routers(bases.clone(), topK, headDim, g1, g2, g3);
    }

    private static float[] gaussian(java.util.Random rnd, int count, double std) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float) (rnd.nextGaussian() * std);
        return a;
    }
}
