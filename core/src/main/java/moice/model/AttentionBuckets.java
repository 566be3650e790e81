package moice.model;

import moice.attention.AttentionVariant;
import moice.attention.RopeProvider;
import moice.attention.VanillaAttention;

/**
 * Attention Buckets (Chen et al. 2023; see docs/method.md): the whole model runs once per RoPE base, each pass with its own
 * KV cache, and at every position the N logit vectors are combined with {@code w = softmax_j(max_v z_j[v])},
 * {@code logits = Σ_j w_j z_j}. Each base gets the model's rope scaling. Cost: N× compute and N× KV memory.
 */
public final class AttentionBuckets implements InferenceSession.Factory {
    /** Retrieval-QA bases of the paper for rope_theta 10000; {@link #retrievalQaBases} scales them. */
    private static final double[] RETRIEVAL_QA = {10000, 13000, 16000, 19000, 22000, 25000, 28000};

    private final Model model;
    private final double[] bases;
    private final AttentionVariant[] passes;

    /** Buckets over {@code bases} (at least one), each a {@link VanillaAttention} with that base. */
    public AttentionBuckets(Model model, double[] bases) {
        if (bases.length == 0) throw new IllegalArgumentException("Attention Buckets need at least one base");
        this.model = model;
        this.bases = bases.clone();
        this.passes = new AttentionVariant[bases.length];
        var c = model.config();
        for (int j = 0; j < bases.length; j++) {
            if (!(bases[j] > 0)) throw new IllegalArgumentException("base " + bases[j]);
            passes[j] = new VanillaAttention(model.attentionShape(),
                    new RopeProvider(bases[j], c.headDim(), c.ropeScaling(), c.maxPositions()));
        }
    }

    /** The paper's retrieval-QA bases {@code [10000, 13000, ..., 28000]} scaled by {@code theta / 10000}. */
    public static double[] retrievalQaBases(double theta) {
        double[] b = new double[RETRIEVAL_QA.length];
        for (int i = 0; i < b.length; i++) b[i] = RETRIEVAL_QA[i] * theta / 10000;
        return b;
    }

    public double[] bases() { return bases.clone(); }

    @Override
    public Session open(int capacity) {
        return new Session(capacity);
    }

    /** One sequence run through every bucket, with a KV cache per bucket. */
    public final class Session implements InferenceSession {
        private final KVCache[] caches;
        private final AttentionVariant.State[] states;
        private float[] lastWeights = new float[0];

        Session(int capacity) {
            caches = new KVCache[passes.length];
            states = new AttentionVariant.State[passes.length];
            for (int j = 0; j < passes.length; j++) {
                caches[j] = model.newCache(capacity);
                states[j] = passes[j].newState();
            }
        }

        @Override
        public float[] forward(int[] tokens, int logitsCount) {
            int vocab = model.config().vocabSize(), n = passes.length;
            float[][] z = new float[n][];
            for (int j = 0; j < n; j++) z[j] = model.forward(tokens, caches[j], passes[j], states[j], logitsCount);
            float[] combined = new float[logitsCount * vocab];
            float[] weights = new float[logitsCount * n];
            double[] w = new double[n];
            for (int t = 0; t < logitsCount; t++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    float m = Float.NEGATIVE_INFINITY;
                    for (int v = 0; v < vocab; v++) m = Math.max(m, z[j][t * vocab + v]);
                    w[j] = m;
                    max = Math.max(max, m);
                }
                double total = 0;
                for (int j = 0; j < n; j++) total += (w[j] = StrictMath.exp(w[j] - max));
                for (int j = 0; j < n; j++) weights[t * n + j] = (float) (w[j] /= total);
                for (int v = 0; v < vocab; v++) {
                    double s = 0;
                    for (int j = 0; j < n; j++) s += w[j] * z[j][t * vocab + v];
                    combined[t * vocab + v] = (float) s;
                }
            }
            lastWeights = weights;
            return combined;
        }

        /** Bucket weights {@code w} of the positions whose logits the last {@link #forward} returned, {@code [rows, N]}. */
        public float[] lastWeights() { return lastWeights.clone(); }

        @Override
        public int size() { return caches[0].size(); }

        @Override
        public int capacity() { return caches[0].capacity(); }

        @Override
        public long cacheBytes() {
            long b = 0;
            for (KVCache c : caches) b += c.bytes();
            return b;
        }

        @Override
        public void limitGrowth(int positions) {
            for (KVCache c : caches) c.limitGrowth(positions);
        }

        @Override
        public void reserve(int positions) {
            for (KVCache c : caches) c.reserve(positions);
        }
    }
}
