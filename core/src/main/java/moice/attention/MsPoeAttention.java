package moice.attention;

import moice.tensor.Parallel;

import java.util.Arrays;

/**
 * Ms-PoE, multi-scale positional encoding (Zhang et al. 2024; see docs/method.md): per-head position interpolation in
 * layers {@value #FIRST_LAYER}..L-1, layers before that run vanilla RoPE.
 *
 * <p>In an Ms-PoE layer, query head {@code h} is rotated at the fractional position {@code t / r_h}; the keys of KV
 * head {@code g} at {@code t / r} of query head {@code g·group} (the first of its group). Ratios
 * {@code r = min + (max − min)·rank / H} go by rank: at each prompt's prefill (a forward call starting at position 0)
 * every head gets an outlier count from the un-rotated attention of the block's last token over all its keys
 * (softmax of {@code q·k / sqrt(d)}; keys with probability {@code > 3/T}, i.e. above 3× the row mean), and heads are
 * ranked by descending count (ties: lower head index first), so the most position-aware heads get the smallest
 * ratios. The ratios stay fixed for the decode calls that follow. The official code's permutation and 4× threshold
 * differ from this stated rule (see scripts/reference/moice_reference.py).
 *
 * <p>With grouped-query attention that rule gives the query heads of a group other ratios than their keys, so
 * scores stop depending on relative position alone (on SmolLM2, 3 query heads per KV head, answers degrade to
 * nonsense). {@code groupRatios = true} rotates every query head with its KV head's ratio instead; for multi-head
 * attention both rules are the same.
 *
 * <p>The KV cache is the vanilla one (un-rotated keys). Each distinct ratio has its own cos/sin table built from the
 * angles {@code (t / r)·invFreq} with the model's rope scaling, not from the integer-position table.
 *
 * <p>Immutable and shareable: the ratios fixed at a prefill belong to that sequence's {@link State}; one forward call
 * at a time per state.
 */
public final class MsPoeAttention implements AttentionVariant {
    /** Layers before this one are left vanilla. */
    public static final int FIRST_LAYER = 2;
    public static final double DEFAULT_MIN_RATIO = 1.2;
    public static final double DEFAULT_MAX_RATIO = 1.8;
    /** A key is an outlier when its probability exceeds this many times the row mean 1/T. */
    public static final double OUTLIER_FACTOR = 3.0;

    private final AttentionShape shape;
    private final int numLayers;
    private final double minRatio;
    private final double maxRatio;
    private final VanillaAttention vanilla;
    /** One provider per rank: the ratio set is the same in every layer, so the tables are shared. */
    private final RopeProvider[] ropeOfRank;
    private final ThreadLocal<CausalAttention.Scratch> scratch;
    private final boolean groupRatios;

    /**
     * @param theta        the model's rope_theta
     * @param scaling      the model's rope scaling (applied as for vanilla RoPE, before positions are divided)
     * @param minRatio     ratio of the most position-aware head
     * @param maxRatio     the ratios are {@code min + (max − min)·i/H}, so {@code max} itself is never reached
     */
    public MsPoeAttention(AttentionShape shape, int numLayers, double theta, RopeScaling scaling, int maxPositions,
                          double minRatio, double maxRatio) {
        this(shape, numLayers, theta, scaling, maxPositions, minRatio, maxRatio, false);
    }

    /**
     * As {@link #MsPoeAttention(AttentionShape, int, double, RopeScaling, int, double, double)}; with
     * {@code groupRatios} every query head uses the ratio of its KV head (that of the group's first query head).
     */
    public MsPoeAttention(AttentionShape shape, int numLayers, double theta, RopeScaling scaling, int maxPositions,
                          double minRatio, double maxRatio, boolean groupRatios) {
        this.groupRatios = groupRatios;
        if (!(minRatio > 0) || !(maxRatio >= minRatio))
            throw new IllegalArgumentException("Ms-PoE ratios need 0 < min <= max, got " + minRatio + ", " + maxRatio);
        this.shape = shape;
        this.numLayers = numLayers;
        this.minRatio = minRatio;
        this.maxRatio = maxRatio;
        this.vanilla = new VanillaAttention(shape, new RopeProvider(theta, shape.headDim(), scaling, maxPositions));
        int heads = shape.numHeads();
        this.ropeOfRank = new RopeProvider[heads];
        for (int i = 0; i < heads; i++)
            ropeOfRank[i] = new RopeProvider(theta, shape.headDim(), scaling, maxPositions, ratioOfRank(i));
        this.scratch = ThreadLocal.withInitial(() -> new CausalAttention.Scratch(shape.headDim()));
    }

    /** Ratio given to the head of rank {@code i} (0 = most outliers). */
    public double ratioOfRank(int i) {
        return minRatio + (maxRatio - minRatio) * i / shape.numHeads();
    }

    /** A prefill (start 0) fixes the ratios from its last token, so it must see the whole prompt at once. */
    @Override
    public boolean needsWholeBlock(int start) {
        return start == 0;
    }

    /** A new sequence: no ratios until its prefill. */
    @Override
    public State newState() {
        return new State();
    }

    @Override
    public void attend(AttentionVariant.State sequence, int layer, float[] q, int T, int start, float[] keys,
                       float[] values, float[] out) {
        if (!(sequence instanceof State state) || state.owner() != this)
            throw new IllegalArgumentException("Ms-PoE attention needs the state of its newState(), got " + sequence);
        if (layer < 0 || layer >= numLayers)
            throw new IllegalArgumentException("layer " + layer + " of a " + numLayers + "-layer model");
        if (layer < FIRST_LAYER) {
            vanilla.attend(STATELESS, layer, q, T, start, keys, values, out);
            return;
        }
        if (start == 0) rankHeads(state, layer, q, T, keys);
        int[] rank = state.rankOfHead[layer];
        if (rank == null)
            throw new IllegalStateException("Ms-PoE layer " + layer + ": decode at position " + start
                    + " before a prefill fixed the head ratios");
        int heads = shape.numHeads(), d = shape.headDim(), qDim = shape.qDim();
        Rope[] ropes = new Rope[heads];
        for (int i = 0; i < heads; i++) ropes[i] = ropeOfRank[i].forLength(start + T);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < heads; h++)
                RopeKernels.rotate(q, t * qDim + h * d, start + t, ropes[rank[queryRatioHead(h)]], shape.layout());
        float scale = (float) (1.0 / Math.sqrt(d));
        int tiles = (T + VanillaAttention.QUERY_TILE - 1) / VanillaAttention.QUERY_TILE;
        int kvHeads = shape.numKvHeads(), group = shape.groupSize();
        Parallel.forRange(kvHeads * tiles, (lo, hi) -> {
            CausalAttention.Scratch sc = scratch.get();
            for (int task = lo; task < hi; task++) {
                int g = task % kvHeads, tile = task / kvHeads;
                int t0 = tile * VanillaAttention.QUERY_TILE, t1 = Math.min(T, t0 + VanillaAttention.QUERY_TILE);
                Rope keyRope = ropes[rank[g * group]];
                CausalAttention.run(shape, q, start, t0, t1, g, keys, values, keyRope, scale, out, sc);
            }
        });
    }

    /** The head whose rank sets query head {@code h}'s ratio: itself, or with group ratios its group's first head. */
    private int queryRatioHead(int h) {
        return groupRatios ? h / shape.groupSize() * shape.groupSize() : h;
    }

    /** Outlier counts of every head from the last token's un-rotated attention over keys [0, T); ranks by count. */
    private void rankHeads(State state, int layer, float[] q, int T, float[] keys) {
        int heads = shape.numHeads(), d = shape.headDim(), qDim = shape.qDim(), kvDim = shape.kvDim();
        double scale = 1.0 / Math.sqrt(d), threshold = OUTLIER_FACTOR / T;
        int[] counts = new int[heads];
        double[] scores = new double[T];
        for (int h = 0; h < heads; h++) {
            int qo = (T - 1) * qDim + h * d, ko = (h / shape.groupSize()) * d;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < T; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += (double) q[qo + c] * keys[j * kvDim + ko + c];
                scores[j] = s * scale;
                max = Math.max(max, scores[j]);
            }
            double sum = 0;
            for (int j = 0; j < T; j++) sum += (scores[j] = StrictMath.exp(scores[j] - max));
            for (int j = 0; j < T; j++) if (scores[j] / sum > threshold) counts[h]++;
        }
        Integer[] order = new Integer[heads];
        for (int h = 0; h < heads; h++) order[h] = h;
        Arrays.sort(order, (a, b) -> counts[a] != counts[b] ? Integer.compare(counts[b], counts[a])
                : Integer.compare(a, b));
        int[] rank = new int[heads];
        for (int i = 0; i < heads; i++) rank[order[i]] = i;
        state.outlierCounts[layer] = counts;
        state.rankOfHead[layer] = rank;
    }

    /** One sequence's head ranking, per layer, fixed by its prefill. */
    public final class State implements AttentionVariant.State {
        private final int[][] outlierCounts = new int[numLayers][];
        private final int[][] rankOfHead = new int[numLayers][];

        private State() {}

        private MsPoeAttention owner() { return MsPoeAttention.this; }

        /** Outlier count per query head found at the last prefill; null for vanilla layers or before a prefill. */
        public int[] outlierCounts(int layer) {
            return outlierCounts[layer] == null ? null : outlierCounts[layer].clone();
        }

        /** Query heads from most to fewest outliers (ties: lower index first); null as for {@link #outlierCounts}. */
        public int[] headOrder(int layer) {
            int[] rank = rankOfHead[layer];
            if (rank == null) return null;
            int[] order = new int[rank.length];
            for (int h = 0; h < rank.length; h++) order[rank[h]] = h;
            return order;
        }

        /** Position ratio of every query head of {@code layer}; all 1 for vanilla layers; null before a prefill. */
        public double[] ratios(int layer) {
            double[] r = new double[shape.numHeads()];
            if (layer < FIRST_LAYER) {
                Arrays.fill(r, 1.0);
                return r;
            }
            int[] rank = rankOfHead[layer];
            if (rank == null) return null;
            for (int h = 0; h < r.length; h++) r[h] = ratioOfRank(rank[queryRatioHead(h)]);
            return r;
        }

        /** Position ratio of the keys of every KV head: that of the first query head of its group. */
        public double[] kvRatios(int layer) {
            double[] r = ratios(layer);
            if (r == null) return null;
            double[] kv = new double[shape.numKvHeads()];
            for (int g = 0; g < kv.length; g++) kv[g] = r[g * shape.groupSize()];
            return kv;
        }
    }
}
