package moice.attention;

import moice.Bounds;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SIMD pieces of {@link MixedExpertAttention} and the {@link RotatedKeys} layout against plain loops, on random
 * inputs with odd head dims, offsets and tails. The whole kernel is compared with the official per-expert
 * formulation in {@link MoiceAttentionTest}.
 */
class MixedExpertAttentionTest {
    private static final int TILE = RotatedKeys.TILE;

    @ParameterizedTest
    @ValueSource(ints = {2, 10, 24, 64, 66, 128})
    void scoresMatchPlainDots(int d) {
        Random rnd = new Random(d);
        float[] q = CausalAttentionTest.random(rnd, 7 * d + 3);
        int ko = 5, width = TILE + 9, qo = 3;
        float[] kT = CausalAttentionTest.random(rnd, ko + d * TILE);
        float[] three = new float[3 * width + 1], one = new float[width];
        // the three query rows anywhere in q, in any order (CausalAttention passes a block's rows of several tokens)
        int[] rows = {qo, qo + 4 * d, qo + d};
        MixedExpertAttention.scoreThreeRows(q, rows[0], rows[1], rows[2], d, kT, ko, three, 1, width, 0.3f);
        for (int r = 0; r < 3; r++) {
            MixedExpertAttention.scoreRow(q, rows[r], d, kT, ko, one, 0, 0.3f);
            for (int j = 0; j < TILE; j++) {
                float dot = 0;
                for (int c = 0; c < d; c++) dot = Math.fma(q[rows[r] + c], kT[ko + c * TILE + j], dot);
                float expected = dot * 0.3f;
                // the same fused multiply-adds in the same order (ascending c), lane by lane: the same bits
                assertEquals(expected, three[1 + r * width + j], 0f, "three rows " + r + "," + j);
                assertEquals(expected, one[j], 0f, "one row " + r + "," + j);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"0, 1", "3, 20", "1, 64", "7, 70", "0, 131"})
    void rowOperationsMatchPlainLoops(int from, int to) {
        Random rnd = new Random(from * 31 + to);
        float[] x = CausalAttentionTest.random(rnd, to + 4);
        float max = Float.NEGATIVE_INFINITY;
        for (int i = from; i < to; i++) max = Math.max(max, x[i]);
        assertEquals(max, moice.tensor.VectorKernels.max(x, from, to - from));

        float[] e = x.clone();
        float sum = MixedExpertAttention.expInPlace(e, from, to, max);
        double expectedSum = 0;
        for (int i = 0; i < x.length; i++) {
            boolean inside = i >= from && i < to;
            double expected = inside ? Math.exp(x[i] - max) : x[i];
            if (inside) expectedSum += expected;
            // moice.tensor.Exp: within 4u relative (ExpTest)
            assertEquals(expected, e[i], 4 * Bounds.U * Math.abs(expected), "exp " + i);
        }
        // a sum of positive float terms, each within 4u: γ(n) of the sum plus the terms' own error
        assertEquals(expectedSum, sum, (Bounds.gamma(to - from) + 4 * Bounds.U) * expectedSum);

        float[] p = new float[to + 4];
        java.util.Arrays.fill(p, 9f);
        MixedExpertAttention.mergeRow(e, 0, 0.25f, p, from, to, true);
        MixedExpertAttention.mergeRow(x, 0, -0.5f, p, from, to, false);
        for (int i = 0; i < p.length; i++) {
            float expected = i >= from && i < to ? Math.fma(x[i], -0.5f, e[i] * 0.25f) : 9f;
            assertEquals(expected, p[i], 0f, "merge " + i); // the same product and fused multiply-add
        }
    }

    @ParameterizedTest
    @CsvSource({"8, 0, 5", "10, 3, 64", "64, 1, 70", "66, 0, 131", "128, 60, 61"})
    void twoRowValueSumsMatchPlainLoops(int d, int from, int to) {
        Random rnd = new Random(d * 13 + to);
        int kb0 = 7, kvDim = 2 * d + 3, kvOff = d + 1, width = to + 5;
        float[] values = CausalAttentionTest.random(rnd, (kb0 + to) * kvDim);
        float[] p = CausalAttentionTest.random(rnd, 2 * width);
        float[] acc = CausalAttentionTest.random(rnd, 2 * d);
        float[] expected = acc.clone();
        MixedExpertAttention.accumulateTwo(values, kb0, kvDim, kvOff, p, width, from, to, acc, d);
        for (int m = 0; m < 2; m++)
            for (int c = 0; c < d; c++) {
                double e = expected[m * d + c], abs = Math.abs(e);
                for (int j = from; j < to; j++) {
                    double term = (double) p[m * width + j] * values[(kb0 + j) * kvDim + kvOff + c];
                    e += term;
                    abs += Math.abs(term);
                }
                // a float sum of (to − from + 1) terms in any order: γ(n)·Σ|terms|
                assertEquals(e, acc[m * d + c], Bounds.gamma(to - from + 1) * abs, "row " + m + " dim " + c);
            }
    }

    /** Rotated tiles hold, column by column, the scalar rotation of each key; extending and truncating keeps that. */
    @ParameterizedTest
    @CsvSource({"3, 16, HALF_SPLIT", "1, 10, INTERLEAVED", "2, 64, INTERLEAVED"})
    void rotatedKeysMatchScalarRotation(int kvHeads, int d, RopeLayout layout) {
        Random rnd = new Random(kvHeads * 7 + d);
        int end = 3 * TILE + 5, kvDim = kvHeads * d;
        float[] keys = CausalAttentionTest.random(rnd, end * kvDim);
        Rope rope = Rope.of(31000, d, RopeScaling.NONE, 4096, end);
        rope.ensure(end);
        RotatedKeys rotated = new RotatedKeys(kvHeads, d);
        rotated.rotate(keys, 0, 10, rope, layout);
        rotated.rotate(keys, 10, TILE + 1, rope, layout);      // grows
        rotated.truncate(TILE - 2);
        rotated.rotate(keys, TILE - 2, end, rope, layout);     // grows again, keeps the earlier tiles
        assertEquals(end, rotated.rotatedTo());
        float[] k = new float[d];
        for (int p = 0; p < end; p++)
            for (int g = 0; g < kvHeads; g++) {
                System.arraycopy(keys, p * kvDim + g * d, k, 0, d);
                RopeKernels.rotateScalar(k, 0, p, rope, layout);
                int off = rotated.tileOffset(g, p / TILE);
                for (int c = 0; c < d; c++)
                    assertEquals(k[c], rotated.data()[off + c * TILE + p % TILE], 0f, "pos " + p + " head " + g);
            }
        assertTrue(rotated.bytes() >= 4L * end * kvDim);
    }
}
