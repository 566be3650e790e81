package moice.attention;

import moice.tensor.Parallel;

/** Standard RoPE attention with the model's own base (and rope scaling); keeps nothing per sequence. */
public final class VanillaAttention implements AttentionVariant {
    /** Query tokens per task: enough work per task to amortise rotating a key tile, small enough to balance. */
    static final int QUERY_TILE = 16;

    private final AttentionShape shape;
    private final RopeProvider ropes;
    private final ThreadLocal<CausalAttention.Scratch> scratch;

    public VanillaAttention(AttentionShape shape, RopeProvider ropes) {
        this.shape = shape;
        this.ropes = ropes;
        this.scratch = ThreadLocal.withInitial(() -> new CausalAttention.Scratch(shape.headDim()));
    }

    @Override
    public void attend(State state, int layer, float[] q, int T, int start, float[] keys, float[] values, float[] out) {
        Rope rope = ropes.forLength(start + T);
        rotateQueries(shape, q, T, start, rope);
        float scale = (float) (1.0 / Math.sqrt(shape.headDim()));
        int tiles = (T + QUERY_TILE - 1) / QUERY_TILE;
        int kvHeads = shape.numKvHeads();
        // one task at a time, late query tiles (the most keys) first, so that the threads finish together; contiguous
        // halves gave one thread three quarters of the causal work
        Parallel.forRange(kvHeads * tiles, 1, (lo, hi) -> {
            CausalAttention.Scratch sc = scratch.get();
            for (int task = lo; task < hi; task++) {
                int g = task % kvHeads, tile = tiles - 1 - task / kvHeads;
                int t0 = tile * QUERY_TILE, t1 = Math.min(T, t0 + QUERY_TILE);
                CausalAttention.run(shape, q, start, t0, t1, g, keys, values, rope, scale, out, sc);
            }
        });
    }

    /** Rotates every query head of the block in place by its position. */
    static void rotateQueries(AttentionShape shape, float[] q, int T, int start, Rope rope) {
        int d = shape.headDim(), qDim = shape.qDim();
        for (int t = 0; t < T; t++)
            for (int h = 0; h < shape.numHeads(); h++)
                RopeKernels.rotate(q, t * qDim + h * d, start + t, rope, shape.layout());
    }
}
