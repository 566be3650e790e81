package moice.attention;

import moice.tensor.Exp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import moice.tensor.VectorKernels;
import jdk.incubator.vector.VectorSpecies;

/**
 * MoICE attention of one key/value head's query heads over a tile of query tokens, all selected experts at once,
 * against keys rotated once per base beforehand ({@link RotatedKeys}).
 *
 * <p>Two passes instead of one online-softmax pass per expert: the scores of every selected (query, expert) row are
 * computed and kept, so each row's softmax maximum and normaliser are exact before any value is touched; a query's K
 * rows then merge into one probability row {@code p(s) = Σ_r w_r · exp(score_r(s) − max_r) / Z_r} and the values are
 * accumulated once per query instead of once per expert. Rows are grouped by expert and scored three at a time, so
 * each loaded key vector serves three queries. Memory: {@code rows × keys} floats of scores per thread.
 *
 * <p>Its plain twin is the official formulation, {@code Σ_j p_j ·} {@link ScalarAttention} per expert; the
 * differential tests compare the two on random inputs (MoiceAttentionTest, MixedExpertAttentionTest).
 */
final class MixedExpertAttention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int TILE = RotatedKeys.TILE;

    private MixedExpertAttention() {}

    /** Per-thread working memory; grows on demand. */
    static final class Scratch {
        float[] queries = new float[0];   // [row, d] rotated with the row's base
        float[] scores = new float[0];    // [row, width]
        float[] rowWeight = new float[0]; // router weight, then weight / Z
        int[] rowQuery = new int[0];      // query index (t - t0) · group + head in group
        int[] rowsOfQuery = new int[0];   // [query, k] row numbers, -1 for a weight of 0
        int[] expertRows = new int[0];    // rows of expert e: [expertRows[e], expertRows[e + 1])
        float[] probabilities = new float[0]; // two merged rows [2, width]
        float[] acc = new float[0];           // [2, d]
        final int[] from = new int[2], to = new int[2];
        final boolean[] empty = new boolean[2];

        void ensure(int rows, int queryCount, int k, int d, int width, int experts) {
            if (rowWeight.length < rows) {
                rowWeight = new float[rows];
                rowQuery = new int[rows];
                queries = new float[rows * d];
            }
            if (scores.length < (long) rows * width) scores = new float[Math.multiplyExact(rows, width)];
            if (rowsOfQuery.length < queryCount * k) rowsOfQuery = new int[queryCount * k];
            if (expertRows.length < experts + 1) expertRows = new int[experts + 1];
            if (probabilities.length < 2 * width) probabilities = new float[2 * width];
            if (acc.length < 2 * d) acc = new float[2 * d];
        }
    }

    /**
     * Writes (overwrites) the output rows of query tokens {@code [t0, t1)} (positions {@code start + t}) and the query
     * heads of key/value head {@code g}: {@code Σ_r w_r · attention(q and keys rotated with base e_r)}.
     *
     * @param q        un-rotated queries {@code [T, qDim]}
     * @param experts  the router's choices, {@code [T · numHeads, k]}
     * @param weights  their weights, same layout; a weight of 0 is skipped
     * @param rotated  per expert its rotated keys covering positions up to {@code start + t1}; may be null for an
     *                 expert no query of the tile chose
     * @param rope     per expert the rotation of its queries
     * @param values   values {@code [position, kvDim]}
     * @param out      {@code [T, qDim]}
     */
    static void run(AttentionShape shape, float[] q, int start, int t0, int t1, int g, int[] experts, float[] weights,
                    int k, RotatedKeys[] rotated, Rope[] rope, float[] values, float scale, float[] out, Scratch sc) {
        int d = shape.headDim(), group = shape.groupSize(), heads = shape.numHeads(), qDim = shape.qDim();
        int n = rotated.length, queries = (t1 - t0) * group;
        int lo = shape.firstVisible(start + t0), hi = start + t1;
        int kb0 = lo - lo % TILE;
        int width = (hi - kb0 + TILE - 1) / TILE * TILE;
        sc.ensure(queries * k, queries, k, d, width, n);

        // rows grouped by expert (counting sort), in token order within an expert
        int[] expertRows = sc.expertRows;
        java.util.Arrays.fill(expertRows, 0, n + 1, 0);
        for (int qi = 0; qi < queries; qi++) {
            int e0 = ((t0 + qi / group) * heads + g * group + qi % group) * k;
            for (int r = 0; r < k; r++) if (weights[e0 + r] != 0f) expertRows[experts[e0 + r] + 1]++;
        }
        for (int e = 0; e < n; e++) expertRows[e + 1] += expertRows[e];
        int[] fill = new int[n];
        for (int e = 0; e < n; e++) fill[e] = expertRows[e];
        for (int qi = 0; qi < queries; qi++) {
            int t = t0 + qi / group, h = g * group + qi % group;
            int e0 = (t * heads + h) * k;
            for (int r = 0; r < k; r++) {
                if (weights[e0 + r] == 0f) {
                    sc.rowsOfQuery[qi * k + r] = -1;
                    continue;
                }
                int e = experts[e0 + r], row = fill[e]++;
                sc.rowsOfQuery[qi * k + r] = row;
                sc.rowQuery[row] = qi;
                sc.rowWeight[row] = weights[e0 + r];
                System.arraycopy(q, t * qDim + h * d, sc.queries, row * d, d);
                RopeKernels.rotate(sc.queries, row * d, start + t, rope[e], shape.layout());
            }
        }

        // pass 1: scores of every row against every key tile it sees
        float[] scores = sc.scores;
        for (int e = 0; e < n; e++) {
            int rs = expertRows[e], re = expertRows[e + 1];
            if (rs == re) continue;
            float[] kT = rotated[e].data();
            for (int kb = kb0; kb < hi; kb += TILE) {
                int ko = rotated[e].tileOffset(g, kb / TILE), so = kb - kb0;
                int r = rs;
                for (; r + 3 <= re; r += 3) {
                    // rows are in token order: the block sees the tile if its last row reaches it and its first
                    // row's window has not left it
                    int lastPos = start + t0 + sc.rowQuery[r + 2] / group;
                    int firstPos = start + t0 + sc.rowQuery[r] / group;
                    if (lastPos < kb || shape.firstVisible(firstPos) >= kb + TILE) continue;
                    scoreThreeRows(sc.queries, r * d, (r + 1) * d, (r + 2) * d, d, kT, ko, scores, r * width + so, width,
                            scale);
                }
                for (; r < re; r++) {
                    int pos = start + t0 + sc.rowQuery[r] / group;
                    if (pos < kb || shape.firstVisible(pos) >= kb + TILE) continue;
                    scoreRow(sc.queries, r * d, d, kT, ko, scores, r * width + so, scale);
                }
            }
        }

        // pass 2: per row exp(score - max) in place; rowWeight becomes w / Z
        int rows = expertRows[n];
        for (int r = 0; r < rows; r++) {
            int pos = start + t0 + sc.rowQuery[r] / group;
            int from = shape.firstVisible(pos) - kb0, to = pos - kb0 + 1;
            int o = r * width;
            float max = VectorKernels.max(scores, o + from, to - from);
            float z = expInPlace(scores, o + from, o + to, max);
            sc.rowWeight[r] /= z;
        }

        // pass 3: one merged probability row per query, one pass over the values for each pair of queries
        int kvDim = shape.kvDim(), kvOff = g * d;
        float[] p = sc.probabilities, acc = sc.acc;
        // pairs pay only when a head spans at least four vectors; narrower heads take one query at a time
        int perPass = d >= 4 * S.length() ? 2 : 1;
        for (int qi = 0; qi < queries; qi += perPass) {
            int pairs = Math.min(perPass, queries - qi);
            for (int m = 0; m < pairs; m++) mergeQuery(shape, sc, qi + m, start, t0, kb0, width, k, m * width);
            int from0 = sc.from[0], to0 = sc.to[0];
            java.util.Arrays.fill(acc, 0, 2 * d, 0f);
            if (pairs == 1) {
                CausalAttention.accumulateValues(values, kb0, kvDim, kvOff, p, from0, to0, acc, 0, d);
            } else {
                // the two rows share most of their keys: accumulate the shared range together, the rest alone
                int from1 = sc.from[1], to1 = sc.to[1];
                int lo2 = Math.max(from0, from1), hi2 = Math.min(to0, to1);
                if (lo2 < hi2) {
                    accumulateTwo(values, kb0, kvDim, kvOff, p, width, lo2, hi2, acc, d);
                    tails(values, kb0, kvDim, kvOff, p, 0, from0, to0, lo2, hi2, acc, 0, d);
                    tails(values, kb0, kvDim, kvOff, p, width, from1, to1, lo2, hi2, acc, d, d);
                } else {
                    CausalAttention.accumulateValues(values, kb0, kvDim, kvOff, p, from0, to0, acc, 0, d);
                    CausalAttention.accumulateValues(values, kb0 - width, kvDim, kvOff, p, width + from1,
                            width + to1, acc, d, d);
                }
            }
            for (int m = 0; m < pairs; m++) {
                int t = t0 + (qi + m) / group, h = g * group + (qi + m) % group;
                if (sc.empty[m]) java.util.Arrays.fill(acc, m * d, (m + 1) * d, 0f);
                System.arraycopy(acc, m * d, out, t * qDim + h * d, d);
            }
        }
    }

    /**
     * Writes query {@code qi}'s merged probabilities {@code Σ_r (w_r / Z_r) · exp(score_r − max_r)} into
     * {@code probabilities[po + j]} over its visible keys, recording the range in {@code from/to[po / width]}.
     */
    private static void mergeQuery(AttentionShape shape, Scratch sc, int qi, int start, int t0, int kb0, int width,
                                   int k, int po) {
        int group = shape.groupSize(), slot = po / width;
        int pos = start + t0 + qi / group;
        int from = shape.firstVisible(pos) - kb0, to = pos - kb0 + 1;
        boolean first = true;
        for (int r = 0; r < k; r++) {
            int row = sc.rowsOfQuery[qi * k + r];
            if (row < 0) continue;
            mergeRow(sc.scores, row * width - po, sc.rowWeight[row], sc.probabilities, po + from, po + to, first);
            first = false;
        }
        sc.from[slot] = from;
        sc.to[slot] = to;
        sc.empty[slot] = first;
        if (first) java.util.Arrays.fill(sc.probabilities, po + from, po + to, 0f);
    }

    /** Keys of {@code [from, to)} outside {@code [lo, hi)}, one row alone. */
    private static void tails(float[] values, int kb0, int kvDim, int kvOff, float[] p, int po, int from, int to,
                              int lo, int hi, float[] acc, int ao, int d) {
        if (from < lo) CausalAttention.accumulateValues(values, kb0 - po, kvDim, kvOff, p, po + from, po + lo, acc, ao, d);
        if (hi < to) CausalAttention.accumulateValues(values, kb0 - po, kvDim, kvOff, p, po + hi, po + to, acc, ao, d);
    }

    /**
     * {@code acc[0..d) += Σ_j p[j] · v[kb0 + j]} and {@code acc[d..2d) += Σ_j p[width + j] · v[kb0 + j]} over
     * {@code j ∈ [from, to)}: two probability rows share every value vector loaded (four vectors of dims at a time).
     */
    static void accumulateTwo(float[] values, int kb0, int kvDim, int kvOff, float[] p, int width, int from, int to,
                              float[] acc, int d) {
        int L = S.length(), c = 0;
        for (; c + 4 * L <= d; c += 4 * L) {
            FloatVector a0 = FloatVector.fromArray(S, acc, c), a1 = FloatVector.fromArray(S, acc, c + L),
                    a2 = FloatVector.fromArray(S, acc, c + 2 * L), a3 = FloatVector.fromArray(S, acc, c + 3 * L);
            FloatVector b0 = FloatVector.fromArray(S, acc, d + c), b1 = FloatVector.fromArray(S, acc, d + c + L),
                    b2 = FloatVector.fromArray(S, acc, d + c + 2 * L), b3 = FloatVector.fromArray(S, acc, d + c + 3 * L);
            for (int j = from; j < to; j++) {
                int vo = (kb0 + j) * kvDim + kvOff + c;
                FloatVector v0 = FloatVector.fromArray(S, values, vo), v1 = FloatVector.fromArray(S, values, vo + L),
                        v2 = FloatVector.fromArray(S, values, vo + 2 * L), v3 = FloatVector.fromArray(S, values, vo + 3 * L);
                FloatVector pa = FloatVector.broadcast(S, p[j]);
                a0 = v0.fma(pa, a0);
                a1 = v1.fma(pa, a1);
                a2 = v2.fma(pa, a2);
                a3 = v3.fma(pa, a3);
                FloatVector pb = FloatVector.broadcast(S, p[width + j]);
                b0 = v0.fma(pb, b0);
                b1 = v1.fma(pb, b1);
                b2 = v2.fma(pb, b2);
                b3 = v3.fma(pb, b3);
            }
            a0.intoArray(acc, c);
            a1.intoArray(acc, c + L);
            a2.intoArray(acc, c + 2 * L);
            a3.intoArray(acc, c + 3 * L);
            b0.intoArray(acc, d + c);
            b1.intoArray(acc, d + c + L);
            b2.intoArray(acc, d + c + 2 * L);
            b3.intoArray(acc, d + c + 3 * L);
        }
        for (; c < d; c++) {
            float a = acc[c], b = acc[d + c];
            for (int j = from; j < to; j++) {
                float v = values[(kb0 + j) * kvDim + kvOff + c];
                a = Math.fma(v, p[j], a);
                b = Math.fma(v, p[width + j], b);
            }
            acc[c] = a;
            acc[d + c] = b;
        }
    }

    /**
     * {@code scores[so + r·width + j] = scale · q_r · kT[:, j]} for the three query rows {@code r} at {@code q0, q1,
     * q2} and the tile's {@code TILE} key columns: twelve accumulators, and every key vector loaded serves three rows.
     * Each column's sum is the chain of FMAs over the head dimension that {@link #scoreRow} forms, so the same bits.
     */
    static void scoreThreeRows(float[] q, int q0, int q1, int q2, int d, float[] kT, int ko, float[] scores, int so,
                               int width, float scale) {
        int L = S.length();
        for (int j = 0; j < TILE; j += 4 * L) {
            FloatVector a00 = FloatVector.zero(S), a01 = FloatVector.zero(S), a02 = FloatVector.zero(S),
                    a03 = FloatVector.zero(S), a10 = FloatVector.zero(S), a11 = FloatVector.zero(S),
                    a12 = FloatVector.zero(S), a13 = FloatVector.zero(S), a20 = FloatVector.zero(S),
                    a21 = FloatVector.zero(S), a22 = FloatVector.zero(S), a23 = FloatVector.zero(S);
            for (int c = 0; c < d; c++) {
                int kc = ko + c * TILE + j;
                FloatVector k0 = FloatVector.fromArray(S, kT, kc), k1 = FloatVector.fromArray(S, kT, kc + L),
                        k2 = FloatVector.fromArray(S, kT, kc + 2 * L), k3 = FloatVector.fromArray(S, kT, kc + 3 * L);
                FloatVector x = FloatVector.broadcast(S, q[q0 + c]);
                a00 = k0.fma(x, a00);
                a01 = k1.fma(x, a01);
                a02 = k2.fma(x, a02);
                a03 = k3.fma(x, a03);
                x = FloatVector.broadcast(S, q[q1 + c]);
                a10 = k0.fma(x, a10);
                a11 = k1.fma(x, a11);
                a12 = k2.fma(x, a12);
                a13 = k3.fma(x, a13);
                x = FloatVector.broadcast(S, q[q2 + c]);
                a20 = k0.fma(x, a20);
                a21 = k1.fma(x, a21);
                a22 = k2.fma(x, a22);
                a23 = k3.fma(x, a23);
            }
            int o0 = so + j, o1 = o0 + width, o2 = o1 + width;
            a00.mul(scale).intoArray(scores, o0);
            a01.mul(scale).intoArray(scores, o0 + L);
            a02.mul(scale).intoArray(scores, o0 + 2 * L);
            a03.mul(scale).intoArray(scores, o0 + 3 * L);
            a10.mul(scale).intoArray(scores, o1);
            a11.mul(scale).intoArray(scores, o1 + L);
            a12.mul(scale).intoArray(scores, o1 + 2 * L);
            a13.mul(scale).intoArray(scores, o1 + 3 * L);
            a20.mul(scale).intoArray(scores, o2);
            a21.mul(scale).intoArray(scores, o2 + L);
            a22.mul(scale).intoArray(scores, o2 + 2 * L);
            a23.mul(scale).intoArray(scores, o2 + 3 * L);
        }
    }

    /** One row of {@link #scoreThreeRows}. */
    static void scoreRow(float[] q, int qo, int d, float[] kT, int ko, float[] scores, int so, float scale) {
        int L = S.length();
        for (int j = 0; j < TILE; j += 2 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S);
            for (int c = 0; c < d; c++) {
                int kc = ko + c * TILE + j;
                FloatVector qc = FloatVector.broadcast(S, q[qo + c]);
                a0 = FloatVector.fromArray(S, kT, kc).fma(qc, a0);
                a1 = FloatVector.fromArray(S, kT, kc + L).fma(qc, a1);
            }
            a0.mul(scale).intoArray(scores, so + j);
            a1.mul(scale).intoArray(scores, so + j + L);
        }
    }

    /** {@code x[i] = exp(x[i] − max)} on {@code [from, to)}; returns their sum (also CausalAttention's tile step). */
    static float expInPlace(float[] x, int from, int to, float max) {
        int L = S.length(), i = from;
        FloatVector sumV = FloatVector.zero(S), maxV = FloatVector.broadcast(S, max);
        for (; i + L <= to; i += L) {
            FloatVector e = Exp.exp(FloatVector.fromArray(S, x, i).sub(maxV));
            e.intoArray(x, i);
            sumV = sumV.add(e);
        }
        // VectorKernels.sumLanes written out: this runs inside CausalAttention's large tile loop, where the JIT may not
        // inline a call, and a vector passed to a call that is not inlined is allocated on the heap (GBs per prefill)
        if (L >= 16) sumV = sumV.add(sumV.rearrange(VectorKernels.FOLD_8));
        if (L >= 8) sumV = sumV.add(sumV.rearrange(VectorKernels.FOLD_4));
        if (L >= 4) sumV = sumV.add(sumV.rearrange(VectorKernels.FOLD_2));
        if (L >= 2) sumV = sumV.add(sumV.rearrange(VectorKernels.FOLD_1));
        float sum = sumV.lane(0);
        for (; i < to; i++) {
            float e = Exp.exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        return sum;
    }

    /** {@code p[j] (=|+=) w · row[ro + j]} on {@code [from, to)}: {@code =} for the first row of a query. */
    static void mergeRow(float[] row, int ro, float w, float[] p, int from, int to, boolean first) {
        int L = S.length(), j = from;
        FloatVector wv = FloatVector.broadcast(S, w);
        if (first) {
            for (; j + L <= to; j += L) FloatVector.fromArray(S, row, ro + j).mul(wv).intoArray(p, j);
            for (; j < to; j++) p[j] = row[ro + j] * w;
        } else {
            for (; j + L <= to; j += L)
                FloatVector.fromArray(S, row, ro + j).fma(wv, FloatVector.fromArray(S, p, j)).intoArray(p, j);
            for (; j < to; j++) p[j] = Math.fma(row[ro + j], w, p[j]);
        }
    }
}
