package moice.model;

import moice.MoiceException;

import java.util.Arrays;

/**
 * Keys and values of every layer for positions {@code [0, size())}, keys stored <b>before</b> RoPE so that each
 * attention variant rotates them with whatever base it needs. Layout per layer: {@code [position, kvHead, headDim]}.
 * Grows by doubling up to {@code capacity}, or up to a {@linkplain #limitGrowth growth limit} where one is set (so that
 * a memory budget of {@code limit} positions is never overshot by a doubling).
 */
public final class KVCache {
    private final int layers;
    private final int kvDim;
    private final int capacity;
    private final float[][] keys;
    private final float[][] values;
    private int size;
    /** Doubling stops here (a store that needs more still gets exactly what it needs); {@code capacity} by default. */
    private int growthLimit;

    /** An empty cache for at most {@code capacity} positions. */
    public KVCache(ModelConfig config, int capacity) {
        this.layers = config.numLayers();
        this.kvDim = config.kvDim();
        this.capacity = capacity;
        this.keys = new float[layers][];
        this.values = new float[layers][];
        this.growthLimit = capacity;
        // allocated on the first store (at least 256 positions, unless the capacity or a growth limit says less)
        for (int l = 0; l < layers; l++) {
            keys[l] = new float[0];
            values[l] = new float[0];
        }
    }

    /** Positions held (all layers agree once a forward call has finished). */
    public int size() { return size; }

    public int capacity() { return capacity; }

    /** Un-rotated keys of {@code layer}, {@code [position, kvDim]}; valid up to the positions written. */
    public float[] keys(int layer) { return keys[layer]; }

    public float[] values(int layer) { return values[layer]; }

    /** Bytes held by the cache arrays now. */
    public long bytes() {
        long b = 0;
        for (int l = 0; l < layers; l++) b += 4L * (keys[l].length + values[l].length);
        return b;
    }

    /** Bytes a full cache of {@code positions} takes for this config. */
    public static long bytesFor(ModelConfig config, int positions) {
        return 2L * 4L * config.numLayers() * config.kvDim() * positions;
    }

    /**
     * From now on the arrays grow by doubling only up to {@code positions} (at most {@code capacity}); a store past
     * that gets exactly the positions it needs. With a limit at least the sequence's final length, the arrays then
     * hold at most {@code max(positions, what they hold now)} positions: what a memory budget can count on. Never
     * shrinks what is allocated.
     */
    public void limitGrowth(int positions) {
        if (positions < 1) throw new IllegalArgumentException("growth limit " + positions);
        growthLimit = Math.min(capacity, positions);
    }

    /**
     * Makes the arrays hold {@code min(positions, growth limit)} positions now, in one allocation per array, when they
     * hold fewer: for a caller that knows how far the sequence will go (a whole prompt, a generation's end), so that
     * the cache is not grown block by block, each growth copying the arrays and leaving the old ones as garbage. Never
     * allocates past the growth limit (a memory budget stays true) and never shrinks.
     */
    public void reserve(int positions) {
        int want = Math.min(positions, growthLimit);
        if (want <= allocatedPositions()) return;
        for (int l = 0; l < layers; l++) {
            keys[l] = Arrays.copyOf(keys[l], want * kvDim);
            values[l] = Arrays.copyOf(values[l], want * kvDim);
        }
    }

    /** Positions the arrays can hold now without growing. */
    public int allocatedPositions() { return kvDim == 0 ? 0 : keys[0].length / kvDim; }

    /** Writes keys/values of {@code T} tokens at positions {@code [start, start+T)} for one layer. */
    void store(int layer, int start, int T, float[] k, float[] v) {
        int end = start + T;
        if (end > capacity)
            throw new MoiceException("sequence of " + end + " tokens exceeds the context of " + capacity + " tokens");
        if ((long) end * kvDim > keys[layer].length) {
            int cap = (int) Math.min(capacity, Math.max(end, Math.min(growthLimit, Math.max(256, keys[layer].length / kvDim * 2L))));
            keys[layer] = Arrays.copyOf(keys[layer], cap * kvDim);
            values[layer] = Arrays.copyOf(values[layer], cap * kvDim);
        }
        System.arraycopy(k, 0, keys[layer], start * kvDim, T * kvDim);
        System.arraycopy(v, 0, values[layer], start * kvDim, T * kvDim);
    }

    void setSize(int size) {
        this.size = size;
    }

    /** Forgets positions from {@code newSize} on (e.g. to re-run a suffix). */
    public void truncate(int newSize) {
        if (newSize < 0 || newSize > size) throw new IllegalArgumentException("truncate to " + newSize + " of " + size);
        size = newSize;
    }
}
