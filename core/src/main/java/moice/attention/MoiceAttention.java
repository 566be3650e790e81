package moice.attention;

import moice.tensor.Parallel;

import java.util.Arrays;

/**
 * Mixture of In-Context Experts attention (Lin et al. 2024; see docs/method.md). Each RoPE base is an expert. For every
 * token and query head a per-layer router, shared by the layer's heads, reads the query rotated with the first base
 * and scores the experts: {@code z = W2·(silu(W1·x) ⊙ (W3·x))}; the K largest logits are kept (ties: the lower
 * expert index first) and their softmax weights renormalised to sum 1. The head's output is
 * {@code Σ_j p_j · attention(query and every cached key rotated with base B_j)}.
 *
 * <p>Only the selected experts are computed. The KV cache holds un-rotated keys, as for vanilla attention, so one
 * cache serves all bases; the model's rope scaling applies to every base (one {@link RopeProvider} each). Blocks of
 * more than {@link #MIXED_MIN_TOKENS} tokens (prefill) rotate the cached keys once per chosen base into a per-thread
 * working buffer ({@link RotatedKeys}: {@code N × positions × kvDim} floats at most, reused across layers and calls)
 * and run {@link MixedExpertAttention}, which scores each query against its K experts and accumulates the values once
 * per query. Shorter blocks (decode) run {@link MixedExpertDecode}: the same arithmetic with key tiles rotated on the
 * fly instead of a rotated copy of every key. {@link #withRotatedKeyCopies} trades N× key memory for not rotating
 * again.
 *
 * <p>Immutable and shareable: what belongs to one sequence (the kept rotated key copies, the routing log) lives in its
 * {@link State}.
 */
public final class MoiceAttention implements AttentionVariant {
    private final AttentionShape shape;
    private final Routers routers;
    private final RopeProvider[] ropes;
    /** Per pool thread: a mixed-kernel task's working memory. */
    private final ThreadLocal<MixedExpertAttention.Scratch> scratch;
    private final boolean keepRotatedCopies;
    private final boolean recordRouting;
    /** Per calling thread, reused across layers and calls: working copies, not sequence state. */
    private final ThreadLocal<RotatedKeys[]> transientCopies;
    /** Per calling thread, reused across layers and calls: a decode step's score rows. */
    private final ThreadLocal<MixedExpertDecode.Buffers> decodeBuffers;
    /** Per pool thread: a decode task's working memory. */
    private final ThreadLocal<MixedExpertDecode.Scratch> decodeScratch;

    /** Above this many tokens a call rotates keys once per base and mixes experts in one kernel. */
    static final int MIXED_MIN_TOKENS = VanillaAttention.QUERY_TILE;
    /** Query tokens per task of the mixed kernel; its score rows are this × group size × K. */
    static final int MIXED_QUERY_TILE = 8;

    /**
     * @param ropes one provider per base, in the order of {@code routers.bases()}, each with the model's rope scaling
     */
    public MoiceAttention(AttentionShape shape, Routers routers, RopeProvider[] ropes) {
        this(shape, routers, ropes, false, false);
    }

    private MoiceAttention(AttentionShape shape, Routers routers, RopeProvider[] ropes, boolean keepRotatedCopies,
                           boolean recordRouting) {
        if (routers.headDim() != shape.headDim())
            throw new IllegalArgumentException("routers for head dim " + routers.headDim() + ", model has " + shape.headDim());
        if (ropes.length != routers.numExperts())
            throw new IllegalArgumentException(ropes.length + " ropes for " + routers.numExperts() + " bases");
        this.shape = shape;
        this.routers = routers;
        this.ropes = ropes.clone();
        this.keepRotatedCopies = keepRotatedCopies;
        this.recordRouting = recordRouting;
        this.scratch = ThreadLocal.withInitial(MixedExpertAttention.Scratch::new);
        this.transientCopies = ThreadLocal.withInitial(() -> new RotatedKeys[routers.numExperts()]);
        this.decodeBuffers = ThreadLocal.withInitial(MixedExpertDecode.Buffers::new);
        this.decodeScratch = ThreadLocal.withInitial(() -> new MixedExpertDecode.Scratch(shape.headDim()));
    }

    /** MoICE with one {@link RopeProvider} per base of {@code routers}, each with the model's {@code scaling}. */
    public static MoiceAttention create(AttentionShape shape, Routers routers, RopeScaling scaling, int maxPositions) {
        RopeProvider[] ropes = new RopeProvider[routers.numExperts()];
        for (int j = 0; j < ropes.length; j++)
            ropes[j] = new RopeProvider(routers.bases()[j], shape.headDim(), scaling, maxPositions);
        return new MoiceAttention(shape, routers, ropes);
    }

    /**
     * This MoICE whose sequences each record every routing decision into their own {@link RoutingLog}
     * ({@link State#routingLog()}).
     */
    public MoiceAttention recordingRouting() {
        return new MoiceAttention(shape, routers, ropes, keepRotatedCopies, true);
    }

    public Routers routers() { return routers; }

    /**
     * This MoICE, {@code keep}ing per sequence and layer one copy of the cached keys rotated with each base (N× the key
     * cache's memory, float32), extended by the new positions on every call, instead of rotating the cached keys again
     * at every call. A call whose keys array or start position does not continue the kept copy rebuilds it. Off by
     * default.
     */
    public MoiceAttention withRotatedKeyCopies(boolean keep) {
        return new MoiceAttention(shape, routers, ropes, keep, recordRouting);
    }

    /** A new sequence: no kept key copies yet, an empty routing log when recording. */
    @Override
    public State newState() {
        return new State(keepRotatedCopies ? new KeptCopies[routers.numLayers()] : null, recordRouting
                ? new RoutingLog(routers.numLayers(), shape.numHeads(), routers.numExperts(), routers.topK()) : null);
    }

    /** What one sequence keeps: its rotated key copies (with {@link #withRotatedKeyCopies}) and routing log. */
    public static final class State implements AttentionVariant.State {
        private final KeptCopies[] kept;
        private final RoutingLog log;

        private State(KeptCopies[] kept, RoutingLog log) {
            this.kept = kept;
            this.log = log;
        }

        /** The routing decisions of this sequence; null unless made by {@link #recordingRouting}. */
        public RoutingLog routingLog() { return log; }

        /** Bytes held by the rotated key copies of {@link #withRotatedKeyCopies} (0 when off). */
        public long rotatedCopyBytes() {
            long total = 0;
            if (kept != null)
                for (KeptCopies c : kept)
                    if (c != null) for (RotatedKeys r : c.perExpert) total += r.bytes();
            return total;
        }
    }

    @Override
    public void attend(AttentionVariant.State sequence, int layer, float[] q, int T, int start, float[] keys,
                       float[] values, float[] out) {
        if (!(sequence instanceof State state))
            throw new IllegalArgumentException("MoICE attention needs the state of its newState(), got " + sequence);
        if (layer < 0 || layer >= routers.numLayers())
            throw new IllegalArgumentException("layer " + layer + ": routers cover " + routers.numLayers() + " layers");
        int n = routers.numExperts(), k = routers.topK(), heads = shape.numHeads();
        Rope[] rope = new Rope[n];
        for (int j = 0; j < n; j++) rope[j] = ropes[j].forLength(start + T);

        int[] experts = new int[T * heads * k];
        float[] weights = new float[T * heads * k];
        float[] logits = new float[T * heads * n];
        route(layer, q, T, start, rope[0], experts, weights, logits);
        float scale = (float) (1.0 / Math.sqrt(shape.headDim()));
        if (state.kept != null) attendMixed(keptCopies(state.kept, layer, keys, start, T, rope), q, T, start, experts, weights,
                rope, values, scale, out);
        else if (T > MIXED_MIN_TOKENS) attendMixed(transientCopies(keys, start + T, experts, rope), q, T, start,
                experts, weights, rope, values, scale, out);
        else MixedExpertDecode.run(shape, q, T, start, experts, weights, routers.topK(), rope, keys, values, scale, out,
                decodeBuffers.get(), decodeScratch);
        if (state.log != null) state.log.record(layer, start, T, experts, weights, logits);
    }

    /** Blocks: all experts of a query tile at once over keys rotated once per base ({@link MixedExpertAttention}). */
    private void attendMixed(RotatedKeys[] rotated, float[] q, int T, int start, int[] experts, float[] weights,
                             Rope[] rope, float[] values, float scale, float[] out) {
        int k = routers.topK(), kvHeads = shape.numKvHeads();
        int tiles = (T + MIXED_QUERY_TILE - 1) / MIXED_QUERY_TILE;
        // late query tiles see the most keys: hand them out first so the threads finish together
        Parallel.forRange(kvHeads * tiles, 1, (lo, hi) -> {
            MixedExpertAttention.Scratch sc = scratch.get();
            for (int task = lo; task < hi; task++) {
                int g = task % kvHeads, tile = tiles - 1 - task / kvHeads;
                int t0 = tile * MIXED_QUERY_TILE, t1 = Math.min(T, t0 + MIXED_QUERY_TILE);
                MixedExpertAttention.run(shape, q, start, t0, t1, g, experts, weights, k, rotated, rope, values,
                        scale, out, sc);
            }
        });
    }

    /** Per-call copies (of the calling thread, reused across layers): the experts some query chose, all positions. */
    private RotatedKeys[] transientCopies(float[] keys, int end, int[] experts, Rope[] rope) {
        int n = routers.numExperts();
        RotatedKeys[] copies = transientCopies.get();
        boolean[] used = new boolean[n];
        for (int e : experts) used[e] = true;
        RotatedKeys[] active = new RotatedKeys[n];
        for (int j = 0; j < n; j++) {
            if (!used[j]) continue;
            if (copies[j] == null) copies[j] = new RotatedKeys(shape.numKvHeads(), shape.headDim());
            copies[j].truncate(0);
            copies[j].rotate(keys, 0, end, rope[j], shape.layout());
            active[j] = copies[j];
        }
        return active;
    }

    /** The kept copies of {@code layer}, extended by positions {@code [start, start + T)} (rebuilt if stale). */
    private RotatedKeys[] keptCopies(KeptCopies[] kept, int layer, float[] keys, int start, int T, Rope[] rope) {
        int n = routers.numExperts();
        KeptCopies c = kept[layer];
        if (c == null) {
            c = kept[layer] = new KeptCopies(new RotatedKeys[n]);
            for (int j = 0; j < n; j++) c.perExpert[j] = new RotatedKeys(shape.numKvHeads(), shape.headDim());
        }
        // dynamic NTK scaling swaps the rope (and so every rotation) once the sequence outgrows the original context
        boolean continues = c.keys == keys && c.perExpert[0].rotatedTo() >= start && Arrays.equals(c.ropes, rope);
        int from = continues ? start : 0;
        for (int j = 0; j < n; j++) {
            c.perExpert[j].truncate(from);
            c.perExpert[j].rotate(keys, from, start + T, rope[j], shape.layout());
        }
        c.keys = keys;
        c.ropes = rope.clone();
        return c.perExpert;
    }

    /** The rotated copies of one layer and the key array they were made from. */
    private static final class KeptCopies {
        final RotatedKeys[] perExpert;
        float[] keys;
        Rope[] ropes;

        KeptCopies(RotatedKeys[] perExpert) {
            this.perExpert = perExpert;
        }
    }

    /** Router of {@code layer} for every (token, head) of the block: top-K experts, renormalised weights, logits. */
    private void route(int layer, float[] q, int T, int start, Rope first, int[] experts, float[] weights,
                       float[] logits) {
        int heads = shape.numHeads();
        Parallel.forRange(T * heads, 64, (lo, hi) -> {
            int d = shape.headDim(), n = routers.numExperts();
            float[] x = new float[d], a = new float[n], b = new float[n], z = new float[n];
            for (int e = lo; e < hi; e++) {
                int t = e / heads, h = e % heads;
                System.arraycopy(q, t * shape.qDim() + h * d, x, 0, d);
                RopeKernels.rotate(x, 0, start + t, first, shape.layout());
                routers.logits(layer, x, 0, a, b, z);
                System.arraycopy(z, 0, logits, e * n, n);
                Routers.selectTopK(z, 0, n, routers.topK(), experts, weights, e * routers.topK());
            }
        });
    }
}
