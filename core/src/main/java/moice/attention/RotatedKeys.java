package moice.attention;

import moice.tensor.Parallel;

/**
 * Keys of all key/value heads rotated with one base and stored in key tiles transposed for scoring: tile
 * {@code b} of head {@code g} holds positions {@code [b·KEY_TILE, (b+1)·KEY_TILE)} as {@code [headDim, KEY_TILE]}, the
 * layout {@link CausalAttention} rotates a tile into. Rotating every key once per base and layer, instead of once per
 * query tile, is what lets MoICE serve several query tiles and heads from one rotation.
 *
 * <p>The buffer grows on demand and is reused; columns past the last rotated position hold stale values that no
 * caller reads (scores of invisible keys are never used).
 */
final class RotatedKeys {
    static final int TILE = CausalAttention.KEY_TILE;

    private final int numKvHeads, headDim;
    private float[] data = new float[0];
    private int tiles;      // tile capacity per head
    private int rotatedTo;  // positions [0, rotatedTo) are valid

    RotatedKeys(int numKvHeads, int headDim) {
        this.numKvHeads = numKvHeads;
        this.headDim = headDim;
    }

    /** The buffer; tile {@code b} of head {@code g} starts at {@link #tileOffset(int, int)}. */
    float[] data() { return data; }

    int tileOffset(int g, int tile) {
        return (g * tiles + tile) * headDim * TILE;
    }

    /** Positions {@code [0, n)} hold rotated keys. */
    int rotatedTo() { return rotatedTo; }

    /**
     * Rotates positions {@code [from, to)} of {@code keys} ({@code [position, kvDim]}, un-rotated) into the tiles;
     * positions before {@code from} keep what an earlier call put there (the caller vouches that they are current).
     * Runs on the pool.
     */
    void rotate(float[] keys, int from, int to, Rope rope, RopeLayout layout) {
        if (from > rotatedTo) throw new IllegalArgumentException("rotating from " + from + " past " + rotatedTo);
        int needTiles = (to + TILE - 1) / TILE;
        if (needTiles > tiles) grow(Math.max(needTiles, tiles + tiles / 2));
        int d = headDim, kvDim = numKvHeads * headDim;
        int firstTile = from / TILE, tileCount = needTiles - firstTile;
        Parallel.forRange(numKvHeads * tileCount, 4, (lo, hi) -> {
            for (int task = lo; task < hi; task++) {
                int g = task % numKvHeads, tile = firstTile + task / numKvHeads;
                int base = tileOffset(g, tile);
                int p0 = Math.max(from, tile * TILE), p1 = Math.min(to, (tile + 1) * TILE);
                for (int p = p0; p < p1; p++)
                    RopeKernels.rotateInto(keys, p * kvDim + g * d, p, rope, layout, data, TILE, p - tile * TILE, base);
            }
        });
        rotatedTo = to;
    }

    /** Forgets the rotated positions from {@code n} on. */
    void truncate(int n) {
        rotatedTo = Math.min(rotatedTo, n);
    }

    private void grow(int newTiles) {
        float[] bigger = new float[Math.multiplyExact(numKvHeads * newTiles, headDim * TILE)];
        int per = tiles * headDim * TILE;
        for (int g = 0; g < numKvHeads; g++) System.arraycopy(data, g * per, bigger, g * newTiles * headDim * TILE, per);
        data = bigger;
        tiles = newTiles;
    }

    /** Bytes held. */
    long bytes() {
        return 4L * data.length;
    }
}
