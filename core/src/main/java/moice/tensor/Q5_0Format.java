package moice.tensor;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static moice.tensor.QuantBlocks.B8;
import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.I8;
import static moice.tensor.QuantBlocks.LE;
import static moice.tensor.QuantBlocks.half;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q5_0: blocks of 32 values in 22 bytes: f16 scale {@code d}, a little-endian u32 {@code qh} holding the fifth
 * bit of value j in bit j, then 16 bytes of nibbles laid out as in {@link Q4_0Format} (value j &lt; 16 in the low
 * nibble of byte j, value 16+j in its high nibble); value {@code d·(q − 16)} in float32. The product of an f16 and a
 * 5-bit integer is exact in float32, so every path gives the same bits.
 */
final class Q5_0Format implements WeightFormat, RowDot {
    static final Q5_0Format INSTANCE = new Q5_0Format();
    private static final int BLOCK = 32, BYTES = 22, QH = 2, QS = 6;

    private Q5_0Format() {}

    @Override
    public DType type() { return DType.Q5_0; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q5_0, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        IntVector lane = QuantBlocks.LANE_INDEX;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block);
            int qh = row.get(QuantBlocks.LE_INT, block + QH);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j += 8) {
                var q = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QS + j, LE).convertShape(B2I, I8, 0);
                var hLow = IntVector.broadcast(I8, qh >>> j).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
                var hHigh = IntVector.broadcast(I8, qh >>> (16 + j)).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
                ((FloatVector) q.and(0xF).or(hLow).sub(16).convertShape(I2F, F8, 0)).mul(d).intoArray(dst, out + j);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).or(hHigh).sub(16).convertShape(I2F, F8, 0)).mul(d)
                        .intoArray(dst, out + 16 + j);
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q5_0, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block);
            long qh = QuantBlocks.u32(data, block + QH);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j++) {
                int q = QuantBlocks.u8(data, block + QS + j);
                int low = (q & 0xF) | (int) (qh >>> j & 1) << 4;
                int high = (q >>> 4) | (int) (qh >>> (j + 16) & 1) << 4;
                dst[out + j] = d * (low - 16);
                dst[out + j + 16] = d * (high - 16);
            }
        }
    }

    /** {@link #dotRow}'s grouping (see there); none on the plain-loop path. */
    @Override
    public Sums sums() {
        return QuantBlocks.VECTOR ? Sums.QUARTERS_OF_32 : null;
    }

    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q5_0, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        IntVector lane = QuantBlocks.LANE_INDEX;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block);
            int qh = row.get(QuantBlocks.LE_INT, block + QH);
            int xb = xOff + BLOCK * b;
            var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QS, LE).convertShape(B2I, I8, 0);
            var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QS + 8, LE).convertShape(B2I, I8, 0);
            var h0 = IntVector.broadcast(I8, qh).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var h1 = IntVector.broadcast(I8, qh >>> 8).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var h2 = IntVector.broadcast(I8, qh >>> 16).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var h3 = IntVector.broadcast(I8, qh >>> 24).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var w0 = ((FloatVector) q0.and(0xF).or(h0).sub(16).convertShape(I2F, F8, 0)).mul(d);
            var w1 = ((FloatVector) q1.and(0xF).or(h1).sub(16).convertShape(I2F, F8, 0)).mul(d);
            var w2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).or(h2).sub(16).convertShape(I2F, F8, 0)).mul(d);
            var w3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).or(h3).sub(16).convertShape(I2F, F8, 0)).mul(d);
            a0 = w0.fma(FloatVector.fromArray(F8, x, xb), a0);
            a1 = w1.fma(FloatVector.fromArray(F8, x, xb + 8), a1);
            a2 = w2.fma(FloatVector.fromArray(F8, x, xb + 16), a2);
            a3 = w3.fma(FloatVector.fromArray(F8, x, xb + 24), a3);
        }
        return VectorKernels.sumLanes256(a0.add(a1).add(a2.add(a3)));
    }
}
