package moice.tensor;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static moice.tensor.QuantBlocks.B8;
import static moice.tensor.QuantBlocks.BW;
import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.FW;
import static moice.tensor.QuantBlocks.I8;
import static moice.tensor.QuantBlocks.IW;
import static moice.tensor.QuantBlocks.LE;
import static moice.tensor.QuantBlocks.half;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;

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
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        if (QuantBlocks.WIDE) { // 16 lanes, the fifth bits as a lane mask (see dotRow)
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = (long) BYTES * b;
                float d = half(row, block), m = half(row, block + 2);
                int qh = row.get(QuantBlocks.LE_INT, block + QH);
                int out = dstOff + BLOCK * b;
                var q = (IntVector) ByteVector.fromMemorySegment(BW, row, block + QS, LE).convertShape(B2I, IW, 0);
                ((FloatVector) q.and(0xF).lanewise(ADD, 16, VectorMask.fromLong(IW, qh))
                        .convertShape(I2F, FW, 0)).fma(d, m).intoArray(dst, out);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).lanewise(ADD, 16, VectorMask.fromLong(IW, qh >>> 16))
                        .convertShape(I2F, FW, 0)).fma(d, m).intoArray(dst, out + 16);
            }
            return;
        }
        IntVector lane = QuantBlocks.LANE_INDEX;
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
        return QuantBlocks.VECTOR ? QuantBlocks.WIDE ? Sums.HALVES_OF_32 : Sums.QUARTERS_OF_32 : null;
    }

    /** As {@link Q5_0Format#dotRow}: four 8-lane accumulators per block, or two 16-lane ones with the fifth bits as a mask. */
    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q5_1, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        return dot(data.asSlice(offset, (long) BYTES * (cols / BLOCK)), 0, cols, x, xOff);
    }

    /** Row by row, each exactly as {@link #dotRow}, with one slice for all {@code n} rows (as {@link Q5_0Format}). */
    @Override
    public void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                            float[] out, int outOff) {
        QuantBlocks.checkCols(DType.Q5_1, cols);
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
            FloatVector lo = FloatVector.zero(FW), hi = lo;
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = base + (long) BYTES * b;
                float d = half(row, block), m = half(row, block + 2);
                int qh = row.get(QuantBlocks.LE_INT, block + QH);
                int xb = xOff + BLOCK * b;
                var q = (IntVector) ByteVector.fromMemorySegment(BW, row, block + QS, LE).convertShape(B2I, IW, 0);
                var wl = ((FloatVector) q.and(0xF).lanewise(ADD, 16, VectorMask.fromLong(IW, qh))
                        .convertShape(I2F, FW, 0)).fma(d, m);
                var wh = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).lanewise(ADD, 16, VectorMask.fromLong(IW, qh >>> 16))
                        .convertShape(I2F, FW, 0)).fma(d, m);
                lo = wl.fma(FloatVector.fromArray(FW, x, xb), lo);
                hi = wh.fma(FloatVector.fromArray(FW, x, xb + 16), hi);
            }
            return VectorKernels.sumLanes(lo.add(hi));
        }
        IntVector lane = QuantBlocks.LANE_INDEX;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) BYTES * b;
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
