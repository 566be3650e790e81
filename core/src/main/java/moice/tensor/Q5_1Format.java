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
 * ggml's Q5_1: blocks of 32 values in 24 bytes: f16 scale {@code d}, f16 offset {@code m}, then {@code qh} and the
 * nibbles as in {@link Q5_0Format}; value {@code d·q + m} in float32, a product then a sum as ggml computes it. The
 * product is exact (11 × 5 significant bits), so the vector path's fused multiply-add gives the same value.
 */
final class Q5_1Format implements WeightFormat, RowDot {
    static final Q5_1Format INSTANCE = new Q5_1Format();
    private static final int BLOCK = 32, BYTES = 24, QH = 4, QS = 8;

    private Q5_1Format() {}

    @Override
    public DType type() { return DType.Q5_1; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q5_1, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        IntVector lane = QuantBlocks.LANE_INDEX;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block), m = half(row, block + 2);
            int qh = row.get(QuantBlocks.LE_INT, block + QH);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j += 8) {
                var q = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QS + j, LE).convertShape(B2I, I8, 0);
                var hLow = IntVector.broadcast(I8, qh >>> j).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
                var hHigh = IntVector.broadcast(I8, qh >>> (16 + j)).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
                ((FloatVector) q.and(0xF).or(hLow).convertShape(I2F, F8, 0)).fma(d, m).intoArray(dst, out + j);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).or(hHigh).convertShape(I2F, F8, 0)).fma(d, m)
                        .intoArray(dst, out + 16 + j);
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q5_1, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block), m = QuantBlocks.halfScalar(data, block + 2);
            long qh = QuantBlocks.u32(data, block + QH);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j++) {
                int q = QuantBlocks.u8(data, block + QS + j);
                int low = (q & 0xF) | (int) (qh >>> j & 1) << 4;
                int high = (q >>> 4) | (int) (qh >>> (j + 16) & 1) << 4;
                dst[out + j] = d * low + m;
                dst[out + j + 16] = d * high + m;
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
        QuantBlocks.checkCols(DType.Q5_1, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        IntVector lane = QuantBlocks.LANE_INDEX;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block), m = half(row, block + 2);
            int qh = row.get(QuantBlocks.LE_INT, block + QH);
            int xb = xOff + BLOCK * b;
            var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QS, LE).convertShape(B2I, I8, 0);
            var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + QS + 8, LE).convertShape(B2I, I8, 0);
            var h0 = IntVector.broadcast(I8, qh).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var h1 = IntVector.broadcast(I8, qh >>> 8).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var h2 = IntVector.broadcast(I8, qh >>> 16).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var h3 = IntVector.broadcast(I8, qh >>> 24).lanewise(LSHR, lane).and(1).lanewise(LSHL, 4);
            var w0 = ((FloatVector) q0.and(0xF).or(h0).convertShape(I2F, F8, 0)).fma(d, m);
            var w1 = ((FloatVector) q1.and(0xF).or(h1).convertShape(I2F, F8, 0)).fma(d, m);
            var w2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).or(h2).convertShape(I2F, F8, 0)).fma(d, m);
            var w3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).or(h3).convertShape(I2F, F8, 0)).fma(d, m);
            a0 = w0.fma(FloatVector.fromArray(F8, x, xb), a0);
            a1 = w1.fma(FloatVector.fromArray(F8, x, xb + 8), a1);
            a2 = w2.fma(FloatVector.fromArray(F8, x, xb + 16), a2);
            a3 = w3.fma(FloatVector.fromArray(F8, x, xb + 24), a3);
        }
        return VectorKernels.sumLanes256(a0.add(a1).add(a2.add(a3)));
    }
}
