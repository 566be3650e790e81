package moice.attention;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import moice.tensor.ScalarKernels;
import moice.tensor.VectorKernels;

/** Rotations of head vectors by a {@link Rope} table (float32, as HF applies them). */
final class RopeKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int TILE = Rope.TILE;

    private RopeKernels() {}

    /** Rotates {@code x[xo .. xo+d)} in place for position {@code pos} (SIMD kernel). */
    static void rotate(float[] x, int xo, int pos, Rope rope, RopeLayout layout) {
        int co = pos * (rope.headDim() / 2);
        if (layout == RopeLayout.HALF_SPLIT) VectorKernels.rotateHalf(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
        else VectorKernels.rotateInterleaved(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
    }

    /** Plain-loop twin of {@link #rotate}, for the reference attention. */
    static void rotateScalar(float[] x, int xo, int pos, Rope rope, RopeLayout layout) {
        int co = pos * (rope.headDim() / 2);
        if (layout == RopeLayout.HALF_SPLIT) ScalarKernels.rotateHalf(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
        else ScalarKernels.rotateInterleaved(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
    }

    /**
     * Writes the rotation of key {@code k[ko .. ko+d)} at {@code pos} transposed into column {@code col} of
     * {@code kT} ({@code [d, stride]}), so that scores against a tile of keys vectorise over keys.
     */
    static void rotateInto(float[] k, int ko, int pos, Rope rope, RopeLayout layout, float[] kT, int stride, int col) {
        rotateInto(k, ko, pos, rope, layout, kT, stride, col, 0);
    }

    /** As above, into the {@code [d, stride]} block of {@code kT} that starts at {@code kto}. */
    static void rotateInto(float[] k, int ko, int pos, Rope rope, RopeLayout layout, float[] kT, int stride, int col,
                           int kto) {
        col += kto;
        int half = rope.headDim() / 2;
        float[] cos = rope.cos(), sin = rope.sin();
        int co = pos * half;
        if (layout == RopeLayout.HALF_SPLIT) {
            for (int i = 0; i < half; i++) {
                float x1 = k[ko + i], x2 = k[ko + half + i], c = cos[co + i], s = sin[co + i];
                kT[i * stride + col] = x1 * c - x2 * s;
                kT[(half + i) * stride + col] = x2 * c + x1 * s;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float x1 = k[ko + 2 * i], x2 = k[ko + 2 * i + 1], c = cos[co + i], s = sin[co + i];
                kT[2 * i * stride + col] = x1 * c - x2 * s;
                kT[(2 * i + 1) * stride + col] = x2 * c + x1 * s;
            }
        }
    }

    /**
     * Copies the un-rotated keys of positions {@code [p0, p1)} (one key/value head: {@code d} floats at {@code kvOff}
     * in rows of {@code kvDim}) transposed into the {@code [d, TILE]} tile {@code rawT}, column {@code p − kb}; the
     * other columns keep what they held. Once per tile and head, then {@link #rotateTile} for each base.
     */
    static void transposeTile(float[] keys, int kvDim, int kvOff, int d, int kb, int p0, int p1, float[] rawT) {
        for (int p = p0; p < p1; p++) {
            int ko = p * kvDim + kvOff, col = p - kb;
            for (int c = 0; c < d; c++) rawT[c * TILE + col] = keys[ko + c];
        }
    }

    /**
     * Writes into the {@code [d, TILE]} tile {@code kT} the keys of {@code rawT} ({@link
     * #transposeTile}) rotated for the positions of tile {@code tile}: column {@code j} by position {@code tile · TILE
     * + j}, every column (ones holding no key come out as garbage that no caller reads). The same products and
     * differences as {@link #rotateInto}, lane by lane, so the same bits; vectors run over keys, which the transposed
     * tables of {@link Rope#cosTiles()} make contiguous.
     */
    static void rotateTile(float[] rawT, int tile, Rope rope, RopeLayout layout, float[] kT) {
        int half = rope.headDim() / 2, L = S.length();
        float[] cos = rope.cosTiles(), sin = rope.sinTiles();
        boolean split = layout == RopeLayout.HALF_SPLIT;
        for (int i = 0; i < half; i++) {
            int r1 = (split ? i : 2 * i) * TILE, r2 = (split ? half + i : 2 * i + 1) * TILE;
            int to = (tile * half + i) * TILE;
            for (int j = 0; j < TILE; j += L) {
                FloatVector x1 = FloatVector.fromArray(S, rawT, r1 + j), x2 = FloatVector.fromArray(S, rawT, r2 + j);
                FloatVector c = FloatVector.fromArray(S, cos, to + j), s = FloatVector.fromArray(S, sin, to + j);
                x1.mul(c).sub(x2.mul(s)).intoArray(kT, r1 + j);
                x2.mul(c).add(x1.mul(s)).intoArray(kT, r2 + j);
            }
        }
    }
}
