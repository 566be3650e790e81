package moice.tensor;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static moice.tensor.QuantBlocks.B8;
import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.I8;
import static moice.tensor.QuantBlocks.BW;
import static moice.tensor.QuantBlocks.FW;
import static moice.tensor.QuantBlocks.IW;
import static moice.tensor.QuantBlocks.LE;
import static moice.tensor.QuantBlocks.half;
import static moice.tensor.QuantBlocks.kMin;
import static moice.tensor.QuantBlocks.kScale;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q4_K: super-blocks of 256 values in 144 bytes: f16 {@code d}, f16 {@code dmin}, 12 bytes of eight packed
 * 6-bit (scale, min) pairs ({@link QuantBlocks#kScale}), then 128 bytes of nibbles. Sub-block {@code j} (32 values)
 * reads nibble {@code j % 2} of bytes {@code 32·(j/2) ..}; value {@code (d·sc_j)·q − (dmin·m_j)}, each step a
 * float32 operation in that order. {@code d·sc_j} (11 + 6 significant bits) and its product with {@code q} are exact
 * in float32, so only the subtraction rounds, and the vector path computes the same value with one fused multiply-add.
 */
final class Q4KFormat implements WeightFormat, RowDot {
    static final Q4KFormat INSTANCE = new Q4KFormat();
    private static final int BLOCK = 256, BYTES = 144, SCALES = 4, QS = 16;

    private Q4KFormat() {}

    @Override
    public DType type() { return DType.Q4_K; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q4_K, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block), dmin = half(row, block + 2);
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(row, block + SCALES, j), min = dmin * kMin(row, block + SCALES, j);
                long bytes = block + QS + 32L * (j / 2);
                int shift = 4 * (j % 2), out = dstOff + BLOCK * b + 32 * j;
                for (int l = 0; l < 32; l += 8) {
                    var q = (IntVector) ByteVector.fromMemorySegment(B8, row, bytes + l, LE).convertShape(B2I, I8, 0);
                    ((FloatVector) q.lanewise(LSHR, shift).and(0xF).convertShape(I2F, F8, 0)).fma(scale, -min)
                            .intoArray(dst, out + l);
                }
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q4_K, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block), dmin = QuantBlocks.halfScalar(data, block + 2);
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(data, block + SCALES, j), min = dmin * kMin(data, block + SCALES, j);
                long bytes = block + QS + 32L * (j / 2);
                int shift = 4 * (j % 2);
                for (int l = 0; l < 32; l++) {
                    int q = (QuantBlocks.u8(data, bytes + l) >>> shift) & 0xF;
                    dst[dstOff + BLOCK * b + 32 * j + l] = scale * q - min;
                }
            }
        }
    }

    /** {@link #dotRow}'s grouping (see there); none on the plain-loop path. */
    @Override
    public Sums sums() {
        return QuantBlocks.VECTOR ? Sums.HALVES_OF_16 : null;
    }

    /**
     * Two 8-lane accumulators, {@code a0} over values 0–7 and {@code a1} over 8–15 of every 16. With 16-lane vectors
     * ({@link QuantBlocks#WIDE}) one accumulator whose low half is {@code a0} and high half {@code a1}: the same FMAs
     * on the same lanes in the same order, half the instructions, and {@link VectorKernels#sumLanes}'s first fold gives
     * {@code a0 + a1}, so both widths give the same bits.
     */
    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q4_K, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        return dot(data.asSlice(offset, (long) BYTES * (cols / BLOCK)), 0, cols, x, xOff);
    }

    /** Row by row, each exactly as {@link #dotRow}, with one slice for all {@code n} rows (see {@link Q8_0Format}). */
    @Override
    public void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                            float[] out, int outOff) {
        QuantBlocks.checkCols(DType.Q4_K, cols);
        if (!QuantBlocks.VECTOR || rowBytes != (long) BYTES * (cols / BLOCK)) {
            RowDot.super.dotRowGroup(data, offset, rowBytes, n, cols, x, xOff, out, outOff);
            return;
        }
        MemorySegment rows = data.asSlice(offset, n * rowBytes);
        for (int i = 0; i < n; i++) out[outOff + i] = dot(rows, i * rowBytes, cols, x, xOff);
    }

    /** The row at {@code base} of {@code row}, as {@link #dotRow} describes. */
    private static float dot(MemorySegment row, long base, int cols, float[] x, int xOff) {
        if (QuantBlocks.WIDE) {
            FloatVector acc = FloatVector.zero(FW);
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = base + (long) BYTES * b;
                float d = half(row, block), dmin = half(row, block + 2);
                // sub-blocks 2p and 2p+1 share 32 bytes (low and high nibbles): widened once, FMAs in value order
                for (int p = 0; p < 4; p++) {
                    long bytes = block + QS + 32L * p;
                    int xb = xOff + BLOCK * b + 64 * p;
                    var q0 = (IntVector) ByteVector.fromMemorySegment(BW, row, bytes, LE).convertShape(B2I, IW, 0);
                    var q1 = (IntVector) ByteVector.fromMemorySegment(BW, row, bytes + 16, LE).convertShape(B2I, IW, 0);
                    float scale = d * kScale(row, block + SCALES, 2 * p), min = dmin * kMin(row, block + SCALES, 2 * p);
                    acc = ((FloatVector) q0.and(0xF).convertShape(I2F, FW, 0)).fma(scale, -min)
                            .fma(FloatVector.fromArray(FW, x, xb), acc);
                    acc = ((FloatVector) q1.and(0xF).convertShape(I2F, FW, 0)).fma(scale, -min)
                            .fma(FloatVector.fromArray(FW, x, xb + 16), acc);
                    scale = d * kScale(row, block + SCALES, 2 * p + 1);
                    min = dmin * kMin(row, block + SCALES, 2 * p + 1);
                    acc = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(scale, -min)
                            .fma(FloatVector.fromArray(FW, x, xb + 32), acc);
                    acc = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(scale, -min)
                            .fma(FloatVector.fromArray(FW, x, xb + 48), acc);
                }
            }
            return VectorKernels.sumLanes(acc);
        }
        FloatVector a0 = FloatVector.zero(F8), a1 = a0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) BYTES * b;
            float d = half(row, block), dmin = half(row, block + 2);
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(row, block + SCALES, j), min = dmin * kMin(row, block + SCALES, j);
                long bytes = block + QS + 32L * (j / 2);
                int shift = 4 * (j % 2), xb = xOff + BLOCK * b + 32 * j;
                for (int l = 0; l < 32; l += 16) {
                    var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, bytes + l, LE).convertShape(B2I, I8, 0);
                    var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, bytes + l + 8, LE).convertShape(B2I, I8, 0);
                    var w0 = ((FloatVector) q0.lanewise(LSHR, shift).and(0xF).convertShape(I2F, F8, 0)).fma(scale, -min);
                    var w1 = ((FloatVector) q1.lanewise(LSHR, shift).and(0xF).convertShape(I2F, F8, 0)).fma(scale, -min);
                    a0 = w0.fma(FloatVector.fromArray(F8, x, xb + l), a0);
                    a1 = w1.fma(FloatVector.fromArray(F8, x, xb + l + 8), a1);
                }
            }
        }
        return VectorKernels.sumLanes256(a0.add(a1));
    }
}
