package moice.attention;

import moice.tensor.Exp;
import jdk.incubator.vector.FloatVector;
import moice.tensor.VectorKernels;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Causal softmax attention of one key/value head's query group over cached, un-rotated keys, computed in key tiles
 * with an online softmax (memory independent of sequence length). Keys are rotated per tile with a {@link Rope}, so
 * any base can be applied to one cache. {@link ScalarAttention} is its plain twin.
 */
public final class CausalAttention {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Keys per tile: a multiple of the vector length; the rotated tile (headDim × 64 floats) stays in L1. */
    static final int KEY_TILE = 64;

    private CausalAttention() {}

    /** Per-thread working memory, sized for one head dimension and a query tile. */
    public static final class Scratch {
        final float[] keyTile;
        /** The un-rotated keys of a tile, transposed ({@link RopeKernels#transposeTile}), before rotation. */
        final float[] rawTile;
        float[] scores = new float[0];
        float[] acc = new float[0];
        float[] max = new float[0];
        float[] sum = new float[0];
        int[] visible = new int[0], from = new int[0], to = new int[0];

        public Scratch(int headDim) {
            keyTile = new float[headDim * KEY_TILE];
            rawTile = new float[headDim * KEY_TILE];
        }

        void ensureQueries(int nq, int headDim) {
            if (max.length < nq) {
                acc = new float[nq * headDim];
                max = new float[nq];
                sum = new float[nq];
                scores = new float[nq * KEY_TILE];
                visible = new int[nq];
                from = new int[nq];
                to = new int[nq];
            }
        }
    }

    /**
     * Attention output for query tokens {@code [t0, t1)} of the block (positions {@code start + t}) and the query heads
     * of key/value head {@code kvHead}.
     *
     * @param qRot   rotated queries {@code [T, qDim]}
     * @param keys   un-rotated keys {@code [position, kvDim]} covering positions up to {@code start + t1}
     * @param values values, same layout
     * @param rope   rotation applied to keys (the queries were rotated by the caller)
     * @param scale  score multiplier (usually 1/sqrt(headDim))
     * @param out    {@code [T, qDim]}; rows of these (token, head) pairs are overwritten
     */
    public static void run(AttentionShape shape, float[] qRot, int start, int t0, int t1, int kvHead,
                           float[] keys, float[] values, Rope rope, float scale, float[] out, Scratch sc) {
        int d = shape.headDim(), group = shape.groupSize(), qDim = shape.qDim(), kvDim = shape.kvDim();
        int nq = (t1 - t0) * group;
        sc.ensureQueries(nq, d);
        float[] acc = sc.acc, max = sc.max, sum = sc.sum, kT = sc.keyTile, scores = sc.scores;
        int[] visible = sc.visible, from = sc.from, to = sc.to;
        Arrays.fill(acc, 0, nq * d, 0f);
        Arrays.fill(max, 0, nq, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, nq, 0f);
        int lo = shape.firstVisible(start + t0), hi = start + t1;
        int kvOff = kvHead * d;
        // tiles on the rope's tile grid (always, without a sliding window) are rotated with vectors over keys: the
        // same products as key by key, so the same bits, faster (in decode only a group's few queries share a tile,
        // so its keys' rotation weighs as much as their scores)
        boolean onGrid = lo % KEY_TILE == 0;
        if (onGrid) rope.ensureTiles(hi);
        for (int kb = lo; kb < hi; kb += KEY_TILE) {
            int n = Math.min(KEY_TILE, hi - kb);
            if (onGrid) {
                RopeKernels.transposeTile(keys, kvDim, kvOff, d, kb, kb, kb + n, sc.rawTile);
                RopeKernels.rotateTile(sc.rawTile, kb / KEY_TILE, rope, shape.layout(), kT);
            } else {
                for (int j = 0; j < n; j++)
                    RopeKernels.rotateInto(keys, (kb + j) * kvDim + kvOff, kb + j, rope, shape.layout(), kT, KEY_TILE, j);
            }
            // the queries that see this tile, and the columns [from, to) each sees
            int m = 0;
            for (int qi = 0; qi < nq; qi++) {
                int pos = start + t0 + qi / group, first = shape.firstVisible(pos);
                if (kb > pos || kb + n <= first) continue;
                visible[m] = qi;
                from[m] = Math.max(0, first - kb);
                to[m] = Math.min(n, pos - kb + 1);
                m++;
            }
            // scores of three queries at a time: they share the tile's loads, and twelve independent sums keep the
            // FMA units busy where one query's two would wait on each other (the same chains, so the same bits)
            int i = 0;
            for (; i + 3 <= m; i += 3)
                MixedExpertAttention.scoreThreeRows(qRot, queryOffset(visible[i], t0, kvHead, group, qDim, d),
                        queryOffset(visible[i + 1], t0, kvHead, group, qDim, d),
                        queryOffset(visible[i + 2], t0, kvHead, group, qDim, d), d, kT, 0, scores, i * KEY_TILE,
                        KEY_TILE, scale);
            for (; i < m; i++)
                MixedExpertAttention.scoreRow(qRot, queryOffset(visible[i], t0, kvHead, group, qDim, d), d, kT, 0,
                        scores, i * KEY_TILE, scale);
            for (i = 0; i < m; i++) {
                int qi = visible[i], so = i * KEY_TILE, jFrom = from[i], jTo = to[i];
                float tileMax = Float.NEGATIVE_INFINITY;
                for (int j = jFrom; j < jTo; j++) tileMax = Math.max(tileMax, scores[so + j]);
                float newMax = Math.max(max[qi], tileMax);
                float correction = Exp.exp(max[qi] - newMax);
                int ao = qi * d;
                if (correction != 1f) for (int c = 0; c < d; c++) acc[ao + c] *= correction;
                float tileSum = MixedExpertAttention.expInPlace(scores, so + jFrom, so + jTo, newMax);
                sum[qi] = sum[qi] * correction + tileSum;
                max[qi] = newMax;
            }
            // values likewise three queries at a time where they see the same columns (a token's group of heads)
            i = 0;
            while (i < m) {
                if (i + 3 <= m && from[i] == from[i + 1] && from[i] == from[i + 2] && to[i] == to[i + 1]
                        && to[i] == to[i + 2]) {
                    accumulateValues3(values, kb, kvDim, kvOff, scores, i * KEY_TILE, from[i], to[i], acc,
                            visible[i] * d, visible[i + 1] * d, visible[i + 2] * d, d);
                    i += 3;
                } else {
                    int so = i * KEY_TILE; // values row kb + j for score so + j
                    accumulateValues(values, kb - so, kvDim, kvOff, scores, so + from[i], so + to[i], acc,
                            visible[i] * d, d);
                    i++;
                }
            }
        }
        for (int qi = 0; qi < nq; qi++) {
            int t = t0 + qi / group, h = kvHead * group + qi % group;
            int oo = t * qDim + h * d;
            float inv = 1f / sum[qi];
            for (int c = 0; c < d; c++) out[oo + c] = acc[qi * d + c] * inv;
        }
    }

    /** Where query {@code qi} of a call (token {@code t0 + qi / group}, head {@code qi % group} of the group) starts. */
    private static int queryOffset(int qi, int t0, int kvHead, int group, int qDim, int d) {
        return (t0 + qi / group) * qDim + (kvHead * group + qi % group) * d;
    }

    /** acc[ao..ao+d) += Σ_j p_j · v[kb+j] over j in [from, to). */
    static void accumulateValues(float[] values, int kb, int kvDim, int kvOff, float[] p, int from, int to,
                                         float[] acc, int ao, int d) {
        int L = S.length();
        int c = 0;
        // eight accumulators per pass over the keys (a 64-wide head on AVX2 in one pass): each p_j is broadcast once
        // per eight loads instead of once per two, and the key loop runs a quarter as often
        for (; c + 8 * L <= d; c += 8 * L) {
            int o = ao + c;
            FloatVector a0 = FloatVector.fromArray(S, acc, o), a1 = FloatVector.fromArray(S, acc, o + L);
            FloatVector a2 = FloatVector.fromArray(S, acc, o + 2 * L), a3 = FloatVector.fromArray(S, acc, o + 3 * L);
            FloatVector a4 = FloatVector.fromArray(S, acc, o + 4 * L), a5 = FloatVector.fromArray(S, acc, o + 5 * L);
            FloatVector a6 = FloatVector.fromArray(S, acc, o + 6 * L), a7 = FloatVector.fromArray(S, acc, o + 7 * L);
            for (int j = from; j < to; j++) {
                FloatVector pj = FloatVector.broadcast(S, p[j]);
                int vo = (kb + j) * kvDim + kvOff + c;
                a0 = FloatVector.fromArray(S, values, vo).fma(pj, a0);
                a1 = FloatVector.fromArray(S, values, vo + L).fma(pj, a1);
                a2 = FloatVector.fromArray(S, values, vo + 2 * L).fma(pj, a2);
                a3 = FloatVector.fromArray(S, values, vo + 3 * L).fma(pj, a3);
                a4 = FloatVector.fromArray(S, values, vo + 4 * L).fma(pj, a4);
                a5 = FloatVector.fromArray(S, values, vo + 5 * L).fma(pj, a5);
                a6 = FloatVector.fromArray(S, values, vo + 6 * L).fma(pj, a6);
                a7 = FloatVector.fromArray(S, values, vo + 7 * L).fma(pj, a7);
            }
            a0.intoArray(acc, o);
            a1.intoArray(acc, o + L);
            a2.intoArray(acc, o + 2 * L);
            a3.intoArray(acc, o + 3 * L);
            a4.intoArray(acc, o + 4 * L);
            a5.intoArray(acc, o + 5 * L);
            a6.intoArray(acc, o + 6 * L);
            a7.intoArray(acc, o + 7 * L);
        }
        for (; c + 2 * L <= d; c += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, acc, ao + c), a1 = FloatVector.fromArray(S, acc, ao + c + L);
            for (int j = from; j < to; j++) {
                FloatVector pj = FloatVector.broadcast(S, p[j]);
                int vo = (kb + j) * kvDim + kvOff + c;
                a0 = FloatVector.fromArray(S, values, vo).fma(pj, a0);
                a1 = FloatVector.fromArray(S, values, vo + L).fma(pj, a1);
            }
            a0.intoArray(acc, ao + c);
            a1.intoArray(acc, ao + c + L);
        }
        for (; c < d; c++) {
            float a = acc[ao + c];
            for (int j = from; j < to; j++) a += p[j] * values[(kb + j) * kvDim + kvOff + c];
            acc[ao + c] = a;
        }
    }

    /**
     * {@link #accumulateValues} for three queries with the same probability columns: rows {@code so}, {@code so +
     * KEY_TILE} and {@code so + 2·KEY_TILE} of {@code p} (columns {@code [from, to)}, value row {@code kb + j}) into
     * {@code acc} at {@code a0, a1, a2}. Each value vector is loaded once for the three; each accumulator element is
     * the same chain of FMAs over {@code j} as there, and the elements that method sums without vectors (past the
     * last whole pair of vectors) are summed the same way here, so the bits are the same.
     */
    static void accumulateValues3(float[] values, int kb, int kvDim, int kvOff, float[] p, int so, int from, int to,
                                  float[] acc, int a0, int a1, int a2, int d) {
        int L = S.length(), s1 = so + KEY_TILE, s2 = s1 + KEY_TILE;
        int c = 0;
        for (; c + 2 * L <= d; c += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(S, acc, a0 + c), x1 = FloatVector.fromArray(S, acc, a0 + c + L);
            FloatVector y0 = FloatVector.fromArray(S, acc, a1 + c), y1 = FloatVector.fromArray(S, acc, a1 + c + L);
            FloatVector z0 = FloatVector.fromArray(S, acc, a2 + c), z1 = FloatVector.fromArray(S, acc, a2 + c + L);
            for (int j = from; j < to; j++) {
                int vo = (kb + j) * kvDim + kvOff + c;
                FloatVector v0 = FloatVector.fromArray(S, values, vo), v1 = FloatVector.fromArray(S, values, vo + L);
                FloatVector w = FloatVector.broadcast(S, p[so + j]);
                x0 = v0.fma(w, x0);
                x1 = v1.fma(w, x1);
                w = FloatVector.broadcast(S, p[s1 + j]);
                y0 = v0.fma(w, y0);
                y1 = v1.fma(w, y1);
                w = FloatVector.broadcast(S, p[s2 + j]);
                z0 = v0.fma(w, z0);
                z1 = v1.fma(w, z1);
            }
            x0.intoArray(acc, a0 + c);
            x1.intoArray(acc, a0 + c + L);
            y0.intoArray(acc, a1 + c);
            y1.intoArray(acc, a1 + c + L);
            z0.intoArray(acc, a2 + c);
            z1.intoArray(acc, a2 + c + L);
        }
        for (; c < d; c++) {
            float x = acc[a0 + c], y = acc[a1 + c], z = acc[a2 + c];
            for (int j = from; j < to; j++) {
                float v = values[(kb + j) * kvDim + kvOff + c];
                x += p[so + j] * v;
                y += p[s1 + j] * v;
                z += p[s2 + j] * v;
            }
            acc[a0 + c] = x;
            acc[a1 + c] = y;
            acc[a2 + c] = z;
        }
    }
}
