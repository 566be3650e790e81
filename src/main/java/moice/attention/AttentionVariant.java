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
}
