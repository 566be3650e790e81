package moice.attention;

/**
 * The seam where attention variants plug into the forward pass (vanilla RoPE, MoICE, Ms-PoE).
 *
 * <p>Contract of {@link #attend}: the layer's projections have produced un-rotated queries for a block of {@code T}
 * tokens at positions {@code [start, start + T)}, and the un-rotated keys and values of positions
 * {@code [0, start + T)} are in {@code keys}/{@code values} ({@code [position, kvDim]}). The variant writes the
 * per-head attention outputs (before o_proj) into {@code out} ({@code [T, qDim]}). It may overwrite {@code q}.
 */
public interface AttentionVariant {
    void attend(int layer, float[] q, int T, int start, float[] keys, float[] values, float[] out);

    /**
     * True when a forward call of tokens starting at position {@code start} must reach {@link #attend} as one block
     * (no splitting of long inputs), because the variant derives per-prompt state from the whole block, as Ms-PoE does
     * at prefill. Default: false, the model may split long inputs into smaller blocks.
     */
    default boolean needsWholeBlock(int start) {
        return false;
    }
}
