package moice.model;

import moice.MoiceException;
import moice.tensor.Parallel;

import java.util.Arrays;

/**
 * Keys and values of every layer for positions {@code [0, size())}, keys stored <b>before</b> RoPE so that each
 * attention variant rotates them with whatever base it needs. Layout per layer: {@code [position, kvHead, headDim]}.
 * Grows by doubling up to {@code capacity}, or up to a {@linkplain #limitGrowth growth limit} where one is set (so that
 * a memory budget of {@code limit} positions is never overshot by a doubling).
 *
 * <p>{@linkplain Precision Precision}: {@link Precision#F32} (the default) keeps what the projections computed, so
 * attention is exact; {@link Precision#F16} keeps every key and value rounded to IEEE half precision (round to nearest
 * even, as {@link Float#floatToFloat16} does), half the memory, as llama.cpp's default cache does. An F16 cache hands
 * attention one layer at a time widened back to float32 in a working buffer of its own ({@link #keys}/{@link #values}
 * after {@link #store} of that layer), so every attention variant runs unchanged on the rounded values: the result is
 * bit for bit that of an F32 cache whose stored values had been rounded to half precision.
 */
public final class KVCache {
    /** How keys and values are stored. */
    public enum Precision {
        /** float32: exact. */
        F32(4),
        /** IEEE binary16: half the memory; each stored value rounded to 11 significant bits. */
        F16(2);

        /** Bytes per stored value. */
        public final int bytes;

        Precision(int bytes) { this.bytes = bytes; }

        /**
         * "f32"/"f16" (any case; also "float32"/"float16") → the precision; otherwise an error naming {@code what}
         * (the flag or field the text came from) and the accepted values.
         */
        public static Precision parse(String s, String what) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "f32", "float32" -> F32;
                case "f16", "float16" -> F16;
                default -> throw new MoiceException(what + ": '" + s
                        + "' is not a KV cache precision; expected f32 or f16");
            };
        }
    }

    private final int layers;
    private final int kvDim;
    private final int capacity;
    private final Precision precision;
    private final float[][] keys;
    private final float[][] values;
    private final short[][] keysHalf;
    private final short[][] valuesHalf;
    /** F16: the layer last stored, widened to float32 for attention (positions up to {@code widenedEnd}). */
    private float[] wideKeys = new float[0], wideValues = new float[0];
    private int widenedLayer = -1;
    private int size;
    /** Doubling stops here (a store that needs more still gets exactly what it needs); {@code capacity} by default. */
    private int growthLimit;
    private int allocated;

    /** An empty float32 cache for at most {@code capacity} positions. */
    public KVCache(ModelConfig config, int capacity) {
        this(config, capacity, Precision.F32);
    }

    /** An empty cache for at most {@code capacity} positions, storing keys and values at {@code precision}. */
    public KVCache(ModelConfig config, int capacity, Precision precision) {
        this.layers = config.numLayers();
        this.kvDim = config.kvDim();
        this.capacity = capacity;
        this.precision = precision;
        this.growthLimit = capacity;
        // allocated on the first store (at least 256 positions, unless the capacity or a growth limit says less)
        boolean f32 = precision == Precision.F32;
        keys = f32 ? new float[layers][0] : null;
        values = f32 ? new float[layers][0] : null;
        keysHalf = f32 ? null : new short[layers][0];
        valuesHalf = f32 ? null : new short[layers][0];
    }

    /** Positions held (all layers agree once a forward call has finished). */
    public int size() { return size; }

    public int capacity() { return capacity; }

    public Precision precision() { return precision; }

    /**
     * Un-rotated keys of {@code layer}, {@code [position, kvDim]}, valid up to the positions written. For an F16 cache:
     * the working buffer, valid for the layer of the last {@link #store} only (what the forward pass asks for right
     * after storing a layer), holding the stored half-precision values widened.
     */
    public float[] keys(int layer) {
        if (keys != null) return keys[layer];
        checkWidened(layer);
        return wideKeys;
    }

    /** Values of {@code layer}; as {@link #keys}. */
    public float[] values(int layer) {
        if (values != null) return values[layer];
        checkWidened(layer);
        return wideValues;
    }

    private void checkWidened(int layer) {
        if (layer != widenedLayer)
            throw new IllegalStateException("F16 KV cache: layer " + layer + " asked for, layer " + widenedLayer
                    + " was the last stored");
    }

    /** Bytes held by the cache: the stored keys and values, and an F16 cache's float32 working buffer. */
    public long bytes() {
        long b = 2L * layers * (long) allocated * kvDim * precision.bytes;
        return b + 4L * (wideKeys.length + wideValues.length);
    }

    /** Bytes a full float32 cache of {@code positions} takes for this config. */
    public static long bytesFor(ModelConfig config, int positions) {
        return bytesFor(config, positions, Precision.F32);
    }

    /**
     * Bytes a full cache of {@code positions} takes for this config at {@code precision}, an F16 cache's working
     * buffer (one layer in float32) included.
     */
    public static long bytesFor(ModelConfig config, int positions, Precision precision) {
        long stored = 2L * precision.bytes * config.numLayers() * config.kvDim() * positions;
        return precision == Precision.F32 ? stored : stored + 2L * 4L * config.kvDim() * positions;
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
        if (want > allocated) grow(want);
    }

    /** Positions the arrays can hold now without growing. */
    public int allocatedPositions() { return allocated; }

    private void grow(int positions) {
        int n = positions * kvDim;
        for (int l = 0; l < layers; l++) {
            if (keys != null) {
                keys[l] = Arrays.copyOf(keys[l], n);
                values[l] = Arrays.copyOf(values[l], n);
            } else {
                keysHalf[l] = Arrays.copyOf(keysHalf[l], n);
                valuesHalf[l] = Arrays.copyOf(valuesHalf[l], n);
            }
        }
        allocated = positions;
    }

    /** Writes keys/values of {@code T} tokens at positions {@code [start, start+T)} for one layer. */
    void store(int layer, int start, int T, float[] k, float[] v) {
        int end = start + T;
        if (end > capacity)
            throw new MoiceException("sequence of " + end + " tokens exceeds the context of " + capacity + " tokens");
        if (end > allocated)
            grow((int) Math.min(capacity, Math.max(end, Math.min(growthLimit, Math.max(256, allocated * 2L)))));
        if (keys != null) {
            System.arraycopy(k, 0, keys[layer], start * kvDim, T * kvDim);
            System.arraycopy(v, 0, values[layer], start * kvDim, T * kvDim);
            return;
        }
        short[] kh = keysHalf[layer], vh = valuesHalf[layer];
        int o = start * kvDim;
        for (int i = 0; i < T * kvDim; i++) {
            kh[o + i] = Float.floatToFloat16(k[i]);
            vh[o + i] = Float.floatToFloat16(v[i]);
        }
        widen(layer, end);
    }

    /** F16: positions {@code [0, end)} of {@code layer} into the float32 working buffer. */
    private void widen(int layer, int end) {
        int n = end * kvDim;
        if (wideKeys.length < n) {
            // sized like the stored arrays, so that it grows as rarely as they do
            wideKeys = new float[allocated * kvDim];
            wideValues = new float[allocated * kvDim];
        }
        short[] kh = keysHalf[layer], vh = valuesHalf[layer];
        float[] wk = wideKeys, wv = wideValues;
        // a nested call (inside a decode batch's pool job) runs serially; a long prefix is worth both threads
        Parallel.forRange(n, Math.max(1 << 15, n / Parallel.threads() + 1), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                wk[i] = Float.float16ToFloat(kh[i]);
                wv[i] = Float.float16ToFloat(vh[i]);
            }
        });
        widenedLayer = layer;
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
