package moice.attention;

import moice.tensor.Parallel;
import moice.tensor.VectorKernels;

import java.util.Arrays;

/**
 * MoICE attention for a few query tokens (decode) over un-rotated cached keys: the arithmetic of
 * {@link MixedExpertAttention} (every selected row's scores kept, exact softmax per row, the K rows of a query merged
 * into one probability row, the values accumulated once per query) without its per-base rotated copy of all keys,
 * which at long context would write and read N × the key cache per layer and token.
 *
 * <p>Two pool passes. First, one task per (key/value head, run of key tiles): each tile's keys are transposed once
 * and rotated with every chosen base into a tile that stays in L1 ({@link RopeKernels#rotateTile}, vectors over
 * keys), and the group's queries that chose that base are scored against it into the shared score rows. Second,
 * one task per (token, query head): each of its K rows becomes {@code exp(score − max)} with the router weight
 * divided by the row's sum, the rows merge into one probability row, and the values are accumulated once. Against
 * one online-softmax pass per expert this keeps the K score passes and drops K − 1 value passes and K − 1 transposes
 * of every key.
 *
 * <p>Memory: score rows of {@code numHeads × N × keys} floats per token (rows of experts no query chose stay unused),
 * held by the calling thread and reused; a block whose rows would pass {@link #MAX_SCORES} floats runs in slices of
 * tokens.
 */
final class MixedExpertDecode {
    private static final int TILE = CausalAttention.KEY_TILE;
    /** Most score floats one slice of the block holds (16 MiB); longer blocks run in slices of tokens. */
    static final long MAX_SCORES = 4L << 20;
    /** Key tiles per task of the first pass. */
    private static final int TILES_PER_TASK = 4;

    private MixedExpertDecode() {}

    /** Working memory of one call, owned by the calling thread and reused across layers and calls. */
    static final class Buffers {
        float[] scores = new float[0];  // [row, width]
        float[] queries = new float[0]; // [row, d]: the row's query rotated with its expert's base
        int[] rowsStart = new int[0];   // rows of (kv head g, expert e): rowIndex[rowsStart[g·n + e] ..]
        int[] rowIndex = new int[0];    // score row of each selected (token, head, expert), grouped by (g, e)
        int[] rowPos = new int[0];      // its query's position

        void ensure(int rows, int d, int width, int groups) {
            if (rowIndex.length < rows) {
                rowIndex = new int[rows];
                rowPos = new int[rows];
            }
            if (queries.length < (long) rows * d) queries = new float[rows * d];
            if (rowsStart.length < groups + 1) rowsStart = new int[groups + 1];
            long need = (long) rows * width;
            if (scores.length < need) scores = new float[Math.toIntExact(need)];
        }
    }

    /** Per-thread working memory of a task. */
    static final class Scratch {
        final float[] rawTile, keyTile;
        final float[] acc;
        float[] probabilities = new float[0];

        Scratch(int headDim) {
            rawTile = new float[headDim * TILE];
            keyTile = new float[headDim * TILE];
            acc = new float[headDim];
        }
    }

    /**
     * Overwrites every output row of the block: {@code out[t, h] = Σ_r w_r · attention(q[t, h] and keys rotated with
     * base e_r)} over the keys each query sees.
     *
     * @param q       un-rotated queries {@code [T, qDim]} at positions {@code start + t}
     * @param experts the router's choices {@code [T · numHeads, k]}; {@code weights} the same layout (0 = skip)
     * @param rope    per expert its rotation, covering positions up to {@code start + T}
     * @param keys    un-rotated keys {@code [position, kvDim]}; {@code values} the same layout
     * @param scratch per pool thread its task memory
     */
    static void run(AttentionShape shape, float[] q, int T, int start, int[] experts, float[] weights, int k,
                    Rope[] rope, float[] keys, float[] values, float scale, float[] out, Buffers buffers,
                    ThreadLocal<Scratch> scratch) {
        int heads = shape.numHeads();
        int lo = shape.firstVisible(start), hi = start + T;
        for (Rope r : rope) r.ensureTiles(hi);
        int width = (hi - (lo - lo % TILE) + TILE - 1) / TILE * TILE;
        // tokens per slice: the score rows of a slice within MAX_SCORES floats (one token at least)
        int perSlice = (int) Math.max(1, Math.min(T, MAX_SCORES / ((long) heads * rope.length * width)));
        for (int t0 = 0; t0 < T; t0 += perSlice)
            slice(shape, q, t0, Math.min(T, t0 + perSlice), start, experts, weights, k, rope, keys, values, scale,
                    out, buffers, scratch);
    }

    /** Tokens {@code [t0, t1)} of the block. */
    private static void slice(AttentionShape shape, float[] q, int t0, int t1, int start, int[] experts,
                              float[] weights, int k, Rope[] rope, float[] keys, float[] values, float scale,
                              float[] out, Buffers b, ThreadLocal<Scratch> scratch) {
        int d = shape.headDim(), heads = shape.numHeads(), group = shape.groupSize(), qDim = shape.qDim();
        int kvDim = shape.kvDim(), kvHeads = shape.numKvHeads(), n = rope.length;
        int lo = shape.firstVisible(start + t0), hi = start + t1;
        int kb0 = lo - lo % TILE;
        int width = (hi - kb0 + TILE - 1) / TILE * TILE, tiles = width / TILE;
        // score row of (token t, head h, expert e): ((t - t0) · heads + h) · n + e, so that one expert's rows of
        // neighbouring heads are n rows apart
        b.ensure((t1 - t0) * heads * n, d, width, kvHeads * n);

        // the selected rows grouped by (kv head, expert), in position order, their queries rotated with that base
        int[] rowsStart = b.rowsStart;
        Arrays.fill(rowsStart, 0, kvHeads * n + 1, 0);
        for (int t = t0; t < t1; t++)
            for (int h = 0; h < heads; h++)
                for (int r = 0; r < k; r++) {
                    int choice = (t * heads + h) * k + r;
                    if (weights[choice] != 0f) rowsStart[h / group * n + experts[choice] + 1]++;
                }
        for (int x = 0; x < kvHeads * n; x++) rowsStart[x + 1] += rowsStart[x];
        int[] fill = Arrays.copyOf(rowsStart, kvHeads * n);
        for (int t = t0; t < t1; t++)
            for (int h = 0; h < heads; h++)
                for (int r = 0; r < k; r++) {
                    int choice = (t * heads + h) * k + r;
                    if (weights[choice] == 0f) continue;
                    int e = experts[choice], slot = fill[h / group * n + e]++;
                    b.rowIndex[slot] = ((t - t0) * heads + h) * n + e;
                    b.rowPos[slot] = start + t;
                    System.arraycopy(q, t * qDim + h * d, b.queries, slot * d, d);
                    RopeKernels.rotate(b.queries, slot * d, start + t, rope[e], shape.layout());
                }

        // pass 1: per (kv head, run of key tiles) each tile transposed once, rotated per chosen base, and scored
        float[] scores = b.scores, queries = b.queries;
        int[] rowIndex = b.rowIndex, rowPos = b.rowPos;
        int runs = (tiles + TILES_PER_TASK - 1) / TILES_PER_TASK;
        Parallel.forRange(kvHeads * runs, 1, (from, to) -> {
            Scratch sc = scratch.get();
            float[] kT = sc.keyTile;
            for (int task = from; task < to; task++) {
                int g = task % kvHeads, run = task / kvHeads;
                for (int tile = run * TILES_PER_TASK; tile < Math.min(tiles, (run + 1) * TILES_PER_TASK); tile++) {
                    int kb = kb0 + tile * TILE, so = tile * TILE;
                    RopeKernels.transposeTile(keys, kvDim, g * d, d, kb, Math.max(kb, lo), Math.min(kb + TILE, hi),
                            sc.rawTile);
                    for (int e = 0; e < n; e++) {
                        int rs = rowsStart[g * n + e], re = rowsStart[g * n + e + 1];
                        if (rs == re) continue;
                        RopeKernels.rotateTile(sc.rawTile, kb / TILE, rope[e], shape.layout(), kT);
                        // rows are in position order; three share the tile's key loads when all three see it and
                        // are neighbouring heads of one token
                        int r = rs;
                        for (; r + 3 <= re; r += 3) {
                            if (rowPos[r + 2] < kb || shape.firstVisible(rowPos[r]) >= kb + TILE) continue;
                            int i0 = rowIndex[r];
                            if (rowIndex[r + 1] == i0 + n && rowIndex[r + 2] == i0 + 2 * n)
                                MixedExpertAttention.scoreThreeRows(queries, r * d, (r + 1) * d, (r + 2) * d, d, kT, 0,
                                        scores, i0 * width + so, n * width, scale);
                            else
                                for (int m = r; m < r + 3; m++)
                                    scoreIfVisible(shape, queries, rowIndex, rowPos, m, kb, kT, scores, width, so, scale);
                        }
                        for (; r < re; r++)
                            scoreIfVisible(shape, queries, rowIndex, rowPos, r, kb, kT, scores, width, so, scale);
                    }
                }
            }
        });

        // pass 2: per (token, query head) its rows' softmax, one merged probability row (experts in the router's rank
        // order) and one pass over the values
        Parallel.forRange((t1 - t0) * heads, 1, (from, to) -> {
            Scratch sc = scratch.get();
            if (sc.probabilities.length < width) sc.probabilities = new float[width];
            float[] p = sc.probabilities, acc = sc.acc;
            for (int qi = from; qi < to; qi++) {
                int t = t0 + qi / heads, h = qi % heads, pos = start + t;
                int first = shape.firstVisible(pos) - kb0, last = pos - kb0 + 1;
                boolean none = true;
                for (int r = 0; r < k; r++) {
                    int choice = (t * heads + h) * k + r;
                    if (weights[choice] == 0f) continue;
                    int o = (qi * n + experts[choice]) * width;
                    float max = VectorKernels.max(scores, o + first, last - first);
                    float z = MixedExpertAttention.expInPlace(scores, o + first, o + last, max);
                    MixedExpertAttention.mergeRow(scores, o, weights[choice] / z, p, first, last, none);
                    none = false;
                }
                int oo = t * qDim + h * d;
                if (none) {
                    Arrays.fill(out, oo, oo + d, 0f);
                    continue;
                }
                Arrays.fill(acc, 0f);
                CausalAttention.accumulateValues(values, kb0, kvDim, (h / group) * d, p, first, last, acc, 0, d);
                System.arraycopy(acc, 0, out, oo, d);
            }
        });
    }

    /** Row {@code r}'s scores against the tile at {@code kb}, if its query sees the tile. */
    private static void scoreIfVisible(AttentionShape shape, float[] queries, int[] rowIndex, int[] rowPos, int r,
                                       int kb, float[] kT, float[] scores, int width, int so, float scale) {
        int pos = rowPos[r], d = shape.headDim();
        if (pos < kb || shape.firstVisible(pos) >= kb + TILE) return;
        MixedExpertAttention.scoreRow(queries, r * d, d, kT, 0, scores, rowIndex[r] * width + so, scale);
    }
}
