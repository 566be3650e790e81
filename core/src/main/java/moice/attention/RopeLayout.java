package moice.attention;

/**
 * How the two halves of each rotated pair sit inside a head vector. A property of the loaded weights: HF checkpoints
 * use {@link #HALF_SPLIT} ({@code rotate_half}); GGUF llama-architecture files permute Q/K rows for
 * {@link #INTERLEAVED} pairs.
 */
public enum RopeLayout {
    /** Pair i is (x[i], x[i + d/2]). */
    HALF_SPLIT,
    /** Pair i is (x[2i], x[2i + 1]). */
    INTERLEAVED
}
