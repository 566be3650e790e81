package moice.tensor;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static moice.tensor.QuantBlocks.B8;
import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.I8;
import static moice.tensor.QuantBlocks.LE;
import static moice.tensor.QuantBlocks.half;
import static moice.tensor.QuantBlocks.kMin;
import static moice.tensor.QuantBlocks.kScale;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q5_K: super-blocks of 256 values in 176 bytes: f16 {@code d}, f16 {@code dmin}, 12 bytes of packed 6-bit
 * scales and mins (as {@link Q4KFormat}), 32 bytes {@code qh}, then 128 bytes of nibbles. Value {@code l} of
 * sub-block {@code j} is nibble {@code j % 2} of byte {@code 32·(j/2) + l} with bit {@code j} of {@code qh[l]} as its
 * fifth bit; value {@code (d·sc_j)·q − (dmin·m_j)} in float32. As in {@link Q4KFormat}, {@code (d·sc_j)·q} is exact (at most
 * 22 significant bits), so the vector path's fused multiply-add gives the same value.
 */
final class Q5KFormat implements WeightFormat, RowDot {
    static final Q5KFormat INSTANCE = new Q5KFormat();
    private static final int BLOCK = 256, BYTES = 176, SCALES = 4, QH = 16, QS = 48;

    private Q5KFormat() {}

    @Override
    public DType type() { return DType.Q5_K; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q5_K, cols);
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
                    var h = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QH + l, LE).convertShape(B2I, I8, 0);
                    var v = q.lanewise(LSHR, shift).and(0xF).or(h.lanewise(LSHR, j).and(1).lanewise(LSHL, 4));
                    ((FloatVector) v.convertShape(I2F, F8, 0)).fma(scale, -min).intoArray(dst, out + l);
                }
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q5_K, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block), dmin = QuantBlocks.halfScalar(data, block + 2);
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(data, block + SCALES, j), min = dmin * kMin(data, block + SCALES, j);
                long bytes = block + QS + 32L * (j / 2);
                int shift = 4 * (j % 2);
                for (int l = 0; l < 32; l++) {
                    int low = (QuantBlocks.u8(data, bytes + l) >>> shift) & 0xF;
                    int fifth = (QuantBlocks.u8(data, block + QH + l) >>> j) & 1;
                    dst[dstOff + BLOCK * b + 32 * j + l] = scale * (low | fifth << 4) - min;
                }
            }
        }
    }

    /** {@link #dotRow}'s grouping (see there); none on the plain-loop path. */
    @Override
    public Sums sums() {
        return QuantBlocks.VECTOR ? Sums.HALVES_OF_16 : null;
    }

    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q5_K, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        FloatVector a0 = FloatVector.zero(F8), a1 = a0;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block), dmin = half(row, block + 2);
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(row, block + SCALES, j), min = dmin * kMin(row, block + SCALES, j);
                long bytes = block + QS + 32L * (j / 2);
                int shift = 4 * (j % 2), xb = xOff + BLOCK * b + 32 * j;
                for (int l = 0; l < 32; l += 16) {
                    var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, bytes + l, LE).convertShape(B2I, I8, 0);
                    var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, bytes + l + 8, LE).convertShape(B2I, I8, 0);
                    var h0 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QH + l, LE).convertShape(B2I, I8, 0);
                    var h1 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QH + l + 8, LE).convertShape(B2I, I8, 0);
                    var v0 = q0.lanewise(LSHR, shift).and(0xF).or(h0.lanewise(LSHR, j).and(1).lanewise(LSHL, 4));
                    var v1 = q1.lanewise(LSHR, shift).and(0xF).or(h1.lanewise(LSHR, j).and(1).lanewise(LSHL, 4));
                    a0 = ((FloatVector) v0.convertShape(I2F, F8, 0)).fma(scale, -min).fma(FloatVector.fromArray(F8, x, xb + l), a0);
                    a1 = ((FloatVector) v1.convertShape(I2F, F8, 0)).fma(scale, -min).fma(FloatVector.fromArray(F8, x, xb + l + 8), a1);
                }
            }
        }
        return VectorKernels.sumLanes256(a0.add(a1));
    }
}
