package moice.tensor;

import java.lang.foreign.MemorySegment;

/**
 * How one {@link DType} stores a row of weights, and how to turn it into float32. This is the seam for quantised
 * formats: a new format is one class implementing this interface plus one {@link DType} constant mapping to it.
 *
 * <p>{@link Gemm} never converts a whole matrix: prefill dequantises a panel of rows (a few hundred KiB, cache
 * resident) with {@link #dequantizeRow} and runs a float micro-kernel over all tokens of the block; decode dequantises
 * short chunks of a few rows into an L1-sized buffer and streams each weight row exactly once. A format that also
 * implements {@link RowDot} (the block-quantised ones) is dotted directly, without the buffer, for single-token decode.
 *
 * <p>Contract for both methods: {@code cols} is a multiple of {@link DType#blockSize}; the bytes
 * {@code [offset, offset + type().bytesFor(cols))} of {@code data} hold the values (little-endian, any alignment);
 * {@code dst[dstOff .. dstOff+cols)} receives them as float32. Both methods must give bit-identical results.
 */
public interface WeightFormat {
    /** The storage type this format reads. */
    DType type();

    /** Vectorised dequantisation of {@code cols} consecutive values. */
    void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff);

    /** Plain-loop twin of {@link #dequantizeRow}, written from the format's definition; the test reference. */
    void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff);
}
