package moice.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A {@link WeightFormat} that can dot a stored row with a float32 vector directly, dequantising each group of values
 * in registers instead of writing the row to a buffer first. {@link Gemm} uses it for single-token decode, where the
 * cost per weight, not the arithmetic per token, decides the speed.
 *
 * <p>Contract: the weights are exactly the values {@link WeightFormat#dequantizeRow} gives (same float32 operations in
 * the same order); only the order in which the products are summed differs from a dequantise-then-dot, so the result
 * is within the usual bound of a reordered float dot product.
 */
interface RowDot {
    /**
     * How {@link #dotRow}'s vector kernel groups its products, so that {@link RowDotTiles} can reproduce its sums bit
     * for bit from the dequantised weights. In every grouping each accumulator is one chain of fused multiply-adds
     * {@code acc = w·x + acc} over the row, in column order, and the chains are then added and their lanes folded as
     * {@link VectorKernels#sumLanes} / {@link VectorKernels#sumLanes256} do.
     */
    enum Sums {
        /** Two 16-lane accumulators: values 0–15 and 16–31 of each group of 32; {@code sumLanes(lo + hi)}. */
        HALVES_OF_32,
        /** Four 8-lane accumulators over values 0–7, 8–15, 16–23, 24–31 of each 32; {@code sumLanes256((a0+a1)+(a2+a3))}. */
        QUARTERS_OF_32,
        /** Two 8-lane accumulators over values 0–7 and 8–15 of each group of 16; {@code sumLanes256(a0 + a1)}. */
        HALVES_OF_16
    }

    /**
     * The grouping {@link #dotRow} uses on this CPU, or null where it is none of {@link Sums} (the plain-loop path
     * without 256-bit vectors): then batched products call {@link #dotRow} per row and vector.
     */
    default Sums sums() { return null; }

    /**
     * {@code Σ_k W[k]·x[xOff + k]} for {@code k < cols}, where {@code W} is the row of {@code cols} values stored at
     * {@code offset} of {@code data} ({@code cols} a multiple of the block size).
     */
    float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff);

    /**
     * {@link #dotRow} of {@code n} consecutive stored rows, {@code rowBytes} apart from {@code offset}, with one vector:
     * {@code out[outOff + i] = dotRow(data, offset + i·rowBytes, cols, x, xOff)} for {@code i < n}, each bit for bit what
     * {@link #dotRow} returns. Single-token decode runs through this: a format may override it to dot a few rows at
     * once, loading each piece of {@code x} once for all of them and giving the CPU independent sums to overlap; this
     * default calls {@link #dotRow} per row.
     */
    default void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                             float[] out, int outOff) {
        for (int i = 0; i < n; i++) out[outOff + i] = dotRow(data, offset + i * rowBytes, cols, x, xOff);
    }
}
