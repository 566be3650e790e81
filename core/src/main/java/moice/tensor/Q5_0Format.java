package moice.tensor;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.SUB;
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
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        if (QuantBlocks.WIDE) { // 16 lanes: the same operations per value, half the instructions
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = (long) BYTES * b;
                float d = half(row, block);
                int qh = row.get(QuantBlocks.LE_INT, block + QH);
                int out = dstOff + BLOCK * b;
                var q = (IntVector) ByteVector.fromMemorySegment(BW, row, block + QS, LE).convertShape(B2I, IW, 0);
                ((FloatVector) q.and(0xF).lanewise(SUB, 16, VectorMask.fromLong(IW, ~qh))
                        .convertShape(I2F, FW, 0)).mul(d).intoArray(dst, out);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).lanewise(SUB, 16, VectorMask.fromLong(IW, ~(qh >>> 16)))
                        .convertShape(I2F, FW, 0)).mul(d).intoArray(dst, out + 16);
            }
            return;
        }
        IntVector lane = QuantBlocks.LANE_INDEX;
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
        return QuantBlocks.VECTOR ? QuantBlocks.WIDE ? Sums.HALVES_OF_32 : Sums.QUARTERS_OF_32 : null;
    }

    /**
     * With 8-lane vectors a block is four vectors of 8 weights, each with its own accumulator; with 16-lane vectors
     * ({@link QuantBlocks#WIDE}) two: values 0–15 (the low nibbles, fifth bits 0–15 of {@code qh}) and 16–31 (the high
     * nibbles, bits 16–31), so one widening load feeds both halves, and the complement of the fifth bits becomes a
     * lane mask (one {@code kmov} on AVX-512) under which 16 is subtracted: {@code q − 16} with the fifth bit, in one
     * masked subtraction (RowDotBench, 1536×576: 109 µs, against 139 shifting the bits into place per 16-lane vector
     * and 163 for the 8-lane kernel; subtracting 16 everywhere and adding it back under the bits' mask took 7 % longer
     * than the one masked subtraction, 431–436 vs 401–404 µs beside a training run).
     */
    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q5_0, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        return dot(data.asSlice(offset, (long) BYTES * (cols / BLOCK)), 0, cols, x, xOff);
    }

    /**
     * Row by row, each exactly as {@link #dotRow}, with one slice for all {@code n} rows (as {@link Q8_0Format}: a
     * slice per row is not always scalar-replaced). A kernel dotting four rows at once, as Q4_1's, measured 1.8×
     * slower than this on a cache-resident [1536 × 576] (RowDotBench, 16-lane: 191 vs 108 µs).
     */
    @Override
    public void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                            float[] out, int outOff) {
        QuantBlocks.checkCols(DType.Q5_0, cols);
        if (!QuantBlocks.VECTOR || rowBytes != (long) BYTES * (cols / BLOCK)) {
            RowDot.super.dotRowGroup(data, offset, rowBytes, n, cols, x, xOff, out, outOff);
            return;
        }
        MemorySegment rows = data.asSlice(offset, n * rowBytes);
        for (int i = 0; i < n; i++) out[outOff + i] = dot(rows, i * rowBytes, cols, x, xOff);
    }

    /** The row at {@code base} of {@code rows}, as {@link #dotRow} describes. */
    private static float dot(MemorySegment rows, long base, int cols, float[] x, int xOff) {
        if (QuantBlocks.WIDE) {
            FloatVector lo = FloatVector.zero(FW), hi = lo;
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = base + (long) BYTES * b;
                float d = half(rows, block);
                int qh = rows.get(QuantBlocks.LE_INT, block + QH);
                int xb = xOff + BLOCK * b;
                var q = (IntVector) ByteVector.fromMemorySegment(BW, rows, block + QS, LE).convertShape(B2I, IW, 0);
                var wl = ((FloatVector) q.and(0xF).lanewise(SUB, 16, VectorMask.fromLong(IW, ~qh))
                        .convertShape(I2F, FW, 0)).mul(d);
                var wh = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).lanewise(SUB, 16, VectorMask.fromLong(IW, ~(qh >>> 16)))
                        .convertShape(I2F, FW, 0)).mul(d);
                lo = wl.fma(FloatVector.fromArray(FW, x, xb), lo);
                hi = wh.fma(FloatVector.fromArray(FW, x, xb + 16), hi);
            }
            return VectorKernels.sumLanes(lo.add(hi));
        }
        IntVector lane = QuantBlocks.LANE_INDEX;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) BYTES * b;
            float d = half(rows, block);
            int qh = rows.get(QuantBlocks.LE_INT, block + QH);
            int xb = xOff + BLOCK * b;
            var q0 = (IntVector) ByteVector.fromMemorySegment(B8, rows, block + QS, LE).convertShape(B2I, I8, 0);
            var q1 = (IntVector) ByteVector.fromMemorySegment(B8, rows, block + QS + 8, LE).convertShape(B2I, I8, 0);
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
