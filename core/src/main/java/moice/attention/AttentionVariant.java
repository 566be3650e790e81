package moice.attention;

/**
 * The seam where attention variants plug into the forward pass (vanilla RoPE, MoICE, Ms-PoE).
 *
 * <p>A variant is immutable and may be shared by any number of sequences running at once: whatever belongs to one
 * sequence (Ms-PoE head ratios fixed at prefill, MoICE rotated key copies and routing log) lives in a {@link State}
 * that {@link #newState()} makes, that the sequence's owner (an {@code InferenceSession}, beside its KV cache) keeps,
 * and that is passed back into every {@link #attend} call of that sequence.
 *
 * <p>Contract of {@link #attend}: the layer's projections have produced un-rotated queries for a block of {@code T}
 * tokens at positions {@code [start, start + T)}, and the un-rotated keys and values of positions
 * {@code [0, start + T)} are in {@code keys}/{@code values} ({@code [position, kvDim]}). The variant writes the
 * per-head attention outputs (before o_proj) into {@code out} ({@code [T, qDim]}). It may overwrite {@code q}.
 */
public interface AttentionVariant {
    /** What one sequence keeps between calls; one forward call at a time per state. */
    interface State {}

    /** The state of variants that keep nothing per sequence. */
    State STATELESS = new State() {
        @Override
        public String toString() { return "stateless"; }
    };

    /** A fresh state for a new sequence (default: {@link #STATELESS}). */
    default State newState() {
        return STATELESS;
    }

    void attend(State state, int layer, float[] q, int T, int start, float[] keys, float[] values, float[] out);

    /**
     * True when a forward call of tokens starting at position {@code start} must reach {@link #attend} as one block
     * (no splitting of long inputs), because the variant derives per-prompt state from the whole block, as Ms-PoE does
     * at prefill. Default: false, the model may split long inputs into smaller blocks.
     */
    default boolean needsWholeBlock(int start) {
        return false;
    }
}
