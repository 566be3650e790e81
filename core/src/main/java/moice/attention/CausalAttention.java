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
        final float[] scores = new float[KEY_TILE];
        float[] acc = new float[0];
        float[] max = new float[0];
        float[] sum = new float[0];

        public Scratch(int headDim) {
            keyTile = new float[headDim * KEY_TILE];
        }

        void ensureQueries(int nq, int headDim) {
            if (max.length < nq) {
                acc = new float[nq * headDim];
                max = new float[nq];
                sum = new float[nq];
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
        Arrays.fill(acc, 0, nq * d, 0f);
        Arrays.fill(max, 0, nq, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, nq, 0f);
        int lo = shape.firstVisible(start + t0), hi = start + t1;
        int kvOff = kvHead * d;
        for (int kb = lo; kb < hi; kb += KEY_TILE) {
            int n = Math.min(KEY_TILE, hi - kb);
            for (int j = 0; j < n; j++)
                RopeKernels.rotateInto(keys, (kb + j) * kvDim + kvOff, kb + j, rope, shape.layout(), kT, KEY_TILE, j);
            for (int qi = 0; qi < nq; qi++) {
                int t = t0 + qi / group, h = kvHead * group + qi % group;
                int pos = start + t;
                int first = shape.firstVisible(pos);
                if (kb > pos || kb + n <= first) continue;
                int jFrom = Math.max(0, first - kb), jTo = Math.min(n, pos - kb + 1); // visible columns [jFrom, jTo)
                scoreTile(qRot, t * qDim + h * d, kT, d, scores, scale);
                float tileMax = Float.NEGATIVE_INFINITY;
                for (int j = jFrom; j < jTo; j++) tileMax = Math.max(tileMax, scores[j]);
                float newMax = Math.max(max[qi], tileMax);
                float correction = Exp.exp(max[qi] - newMax);
                int ao = qi * d;
                if (correction != 1f) for (int c = 0; c < d; c++) acc[ao + c] *= correction;
                float tileSum = MixedExpertAttention.expInPlace(scores, jFrom, jTo, newMax);
                sum[qi] = sum[qi] * correction + tileSum;
                max[qi] = newMax;
                accumulateValues(values, kb, kvDim, kvOff, scores, jFrom, jTo, acc, ao, d);
            }
        }
        for (int qi = 0; qi < nq; qi++) {
            int t = t0 + qi / group, h = kvHead * group + qi % group;
            int oo = t * qDim + h * d;
            float inv = 1f / sum[qi];
            for (int c = 0; c < d; c++) out[oo + c] = acc[qi * d + c] * inv;
        }
    }

    /** scores[j] = scale · q·kT[:, j] for all KEY_TILE columns. */
    private static void scoreTile(float[] q, int qo, float[] kT, int d, float[] scores, float scale) {
        int L = S.length();
        for (int j = 0; j < KEY_TILE; j += 2 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S);
            for (int c = 0; c < d; c++) {
                FloatVector qc = FloatVector.broadcast(S, q[qo + c]);
                a0 = FloatVector.fromArray(S, kT, c * KEY_TILE + j).fma(qc, a0);
                a1 = FloatVector.fromArray(S, kT, c * KEY_TILE + j + L).fma(qc, a1);
            }
            a0.mul(scale).intoArray(scores, j);
            a1.mul(scale).intoArray(scores, j + L);
        }
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
}
