package moice.tensor;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
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

/**
 * ggml's Q4_1: blocks of 32 values in 20 bytes, f16 scale {@code d}, f16 offset {@code m}, then 16 bytes of nibbles
 * laid out as in {@link Q4_0Format}; value {@code d·q + m} in float32, a product then a sum as ggml computes it. The
 * product of an f16 (11 significant bits) and a nibble is exact in float32, so only the sum rounds, and the vector
 * path computes the same value with one fused multiply-add.
 */
final class Q4_1Format implements WeightFormat, RowDot {
    static final Q4_1Format INSTANCE = new Q4_1Format();
    private static final int BLOCK = 32, BYTES = 20;

    private Q4_1Format() {}

    @Override
    public DType type() { return DType.Q4_1; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q4_1, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        if (QuantBlocks.WIDE) { // 16 lanes: the same operations per value, half the instructions (batched decode)
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = (long) BYTES * b;
                int dm = row.get(QuantBlocks.LE_INT, block); // d and m as one load (one bounds check), as dotRowGroup
                float d = Float.float16ToFloat((short) dm), m = Float.float16ToFloat((short) (dm >>> 16));
                int out = dstOff + BLOCK * b;
                var q = (IntVector) ByteVector.fromMemorySegment(BW, row, block + 4, LE).convertShape(B2I, IW, 0);
                ((FloatVector) q.and(0xF).convertShape(I2F, FW, 0)).fma(d, m).intoArray(dst, out);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(d, m).intoArray(dst, out + 16);
            }
            return;
        }
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block), m = half(row, block + 2);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j += 8) {
                var q = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 4 + j, LE).convertShape(B2I, I8, 0);
                ((FloatVector) q.and(0xF).convertShape(I2F, F8, 0)).fma(d, m).intoArray(dst, out + j);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m).intoArray(dst, out + 16 + j);
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q4_1, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block), m = QuantBlocks.halfScalar(data, block + 2);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j++) {
                int q = QuantBlocks.u8(data, block + 4 + j);
                dst[out + j] = d * (q & 0xF) + m;
                dst[out + j + 16] = d * (q >>> 4) + m;
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
     * ({@link QuantBlocks#WIDE}) two: the low nibbles of the 16 bytes are values 0–15 of the block and the high nibbles
     * values 16–31, so one widening load feeds both halves.
     */
    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q4_1, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        if (QuantBlocks.WIDE) {
            FloatVector lo = FloatVector.zero(FW), hi = lo;
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = (long) BYTES * b;
                float d = half(row, block), m = half(row, block + 2);
                int xb = xOff + BLOCK * b;
                var q = (IntVector) ByteVector.fromMemorySegment(BW, row, block + 4, LE).convertShape(B2I, IW, 0);
                var wl = ((FloatVector) q.and(0xF).convertShape(I2F, FW, 0)).fma(d, m);
                var wh = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(d, m);
                lo = wl.fma(FloatVector.fromArray(FW, x, xb), lo);
                hi = wh.fma(FloatVector.fromArray(FW, x, xb + 16), hi);
            }
            return VectorKernels.sumLanes(lo.add(hi));
        }
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block), m = half(row, block + 2);
            int xb = xOff + BLOCK * b;
            var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 4, LE).convertShape(B2I, I8, 0);
            var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 12, LE).convertShape(B2I, I8, 0);
            var w0 = ((FloatVector) q0.and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
            var w1 = ((FloatVector) q1.and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
            var w2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
            var w3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
            a0 = w0.fma(FloatVector.fromArray(F8, x, xb), a0);
            a1 = w1.fma(FloatVector.fromArray(F8, x, xb + 8), a1);
            a2 = w2.fma(FloatVector.fromArray(F8, x, xb + 16), a2);
            a3 = w3.fma(FloatVector.fromArray(F8, x, xb + 24), a3);
        }
        return VectorKernels.sumLanes256(a0.add(a1).add(a2.add(a3)));
    }

    /**
     * Four rows at a time, each accumulated exactly as {@link #dotRow} accumulates it (same weights, same FMAs, same
     * order), so every result is bit for bit {@link #dotRow}'s: each piece of {@code x} is loaded once for the four
     * rows, one slice covers them, and the four rows' sums are independent chains the CPU overlaps.
     */
    @Override
    public void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                            float[] out, int outOff) {
        QuantBlocks.checkCols(DType.Q4_1, cols);
        int i = 0;
        if (QuantBlocks.VECTOR && rowBytes == (long) BYTES * (cols / BLOCK)) {
            // one slice for the whole group (a slice per four rows was not always scalar-replaced: ~100 MB/s garbage)
            MemorySegment g = data.asSlice(offset, n / 4 * 4 * rowBytes);
            for (; i + 4 <= n; i += 4) {
                long r0 = i * rowBytes, r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
                if (QuantBlocks.WIDE) {
                    FloatVector l0 = FloatVector.zero(FW), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
                    for (int b = 0; b < cols / BLOCK; b++) {
                        long block = (long) BYTES * b;
                        int xb = xOff + BLOCK * b;
                        var xl = FloatVector.fromArray(FW, x, xb);
                        var xh = FloatVector.fromArray(FW, x, xb + 16);
                        int dm = g.get(QuantBlocks.LE_INT, r0 + block);
                        float d = Float.float16ToFloat((short) dm), m = Float.float16ToFloat((short) (dm >>> 16));
                        var q = (IntVector) ByteVector.fromMemorySegment(BW, g, r0 + block + 4, LE).convertShape(B2I, IW, 0);
                        l0 = ((FloatVector) q.and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xl, l0);
                        h0 = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xh, h0);
                        dm = g.get(QuantBlocks.LE_INT, r1 + block);
                        d = Float.float16ToFloat((short) dm);
                        m = Float.float16ToFloat((short) (dm >>> 16));
                        q = (IntVector) ByteVector.fromMemorySegment(BW, g, r1 + block + 4, LE).convertShape(B2I, IW, 0);
                        l1 = ((FloatVector) q.and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xl, l1);
                        h1 = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xh, h1);
                        dm = g.get(QuantBlocks.LE_INT, r2 + block);
                        d = Float.float16ToFloat((short) dm);
                        m = Float.float16ToFloat((short) (dm >>> 16));
                        q = (IntVector) ByteVector.fromMemorySegment(BW, g, r2 + block + 4, LE).convertShape(B2I, IW, 0);
                        l2 = ((FloatVector) q.and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xl, l2);
                        h2 = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xh, h2);
                        dm = g.get(QuantBlocks.LE_INT, r3 + block);
                        d = Float.float16ToFloat((short) dm);
                        m = Float.float16ToFloat((short) (dm >>> 16));
                        q = (IntVector) ByteVector.fromMemorySegment(BW, g, r3 + block + 4, LE).convertShape(B2I, IW, 0);
                        l3 = ((FloatVector) q.and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xl, l3);
                        h3 = ((FloatVector) q.lanewise(LSHR, 4).and(0xF).convertShape(I2F, FW, 0)).fma(d, m).fma(xh, h3);
                    }
                    // VectorKernels.sumLanes spelled out: in a kernel this size C2 left the call out of line and
                    // boxed its argument (about 100 bytes allocated per row, 1.5x slower); same folds, same order
                    FloatVector s0 = l0.add(h0);
                    s0 = s0.add(s0.rearrange(VectorKernels.FOLD_8));
                    s0 = s0.add(s0.rearrange(VectorKernels.FOLD_4));
                    s0 = s0.add(s0.rearrange(VectorKernels.FOLD_2));
                    out[outOff + i] = s0.add(s0.rearrange(VectorKernels.FOLD_1)).lane(0);
                    FloatVector s1 = l1.add(h1);
                    s1 = s1.add(s1.rearrange(VectorKernels.FOLD_8));
                    s1 = s1.add(s1.rearrange(VectorKernels.FOLD_4));
                    s1 = s1.add(s1.rearrange(VectorKernels.FOLD_2));
                    out[outOff + i + 1] = s1.add(s1.rearrange(VectorKernels.FOLD_1)).lane(0);
                    FloatVector s2 = l2.add(h2);
                    s2 = s2.add(s2.rearrange(VectorKernels.FOLD_8));
                    s2 = s2.add(s2.rearrange(VectorKernels.FOLD_4));
                    s2 = s2.add(s2.rearrange(VectorKernels.FOLD_2));
                    out[outOff + i + 2] = s2.add(s2.rearrange(VectorKernels.FOLD_1)).lane(0);
                    FloatVector s3 = l3.add(h3);
                    s3 = s3.add(s3.rearrange(VectorKernels.FOLD_8));
                    s3 = s3.add(s3.rearrange(VectorKernels.FOLD_4));
                    s3 = s3.add(s3.rearrange(VectorKernels.FOLD_2));
                    out[outOff + i + 3] = s3.add(s3.rearrange(VectorKernels.FOLD_1)).lane(0);
                } else {
                    // 8-lane: 4 accumulators per row as dotRow, two rows per pass (16 accumulators would spill)
                    for (int p = 0; p < 4; p += 2) {
                        long ra = r0 + p * rowBytes, rb = ra + rowBytes;
                        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                        for (int b = 0; b < cols / BLOCK; b++) {
                            long block = (long) BYTES * b;
                            int xb = xOff + BLOCK * b;
                            var x0 = FloatVector.fromArray(F8, x, xb);
                            var x1 = FloatVector.fromArray(F8, x, xb + 8);
                            var x2 = FloatVector.fromArray(F8, x, xb + 16);
                            var x3 = FloatVector.fromArray(F8, x, xb + 24);
                            int dm = g.get(QuantBlocks.LE_INT, ra + block);
                            float d = Float.float16ToFloat((short) dm), m = Float.float16ToFloat((short) (dm >>> 16));
                            var q0 = (IntVector) ByteVector.fromMemorySegment(B8, g, ra + block + 4, LE).convertShape(B2I, I8, 0);
                            var q1 = (IntVector) ByteVector.fromMemorySegment(B8, g, ra + block + 12, LE).convertShape(B2I, I8, 0);
                            a0 = ((FloatVector) q0.and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x0, a0);
                            a1 = ((FloatVector) q1.and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x1, a1);
                            a2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x2, a2);
                            a3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x3, a3);
                            dm = g.get(QuantBlocks.LE_INT, rb + block);
                            d = Float.float16ToFloat((short) dm);
                            m = Float.float16ToFloat((short) (dm >>> 16));
                            q0 = (IntVector) ByteVector.fromMemorySegment(B8, g, rb + block + 4, LE).convertShape(B2I, I8, 0);
                            q1 = (IntVector) ByteVector.fromMemorySegment(B8, g, rb + block + 12, LE).convertShape(B2I, I8, 0);
                            b0 = ((FloatVector) q0.and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x0, b0);
                            b1 = ((FloatVector) q1.and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x1, b1);
                            b2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x2, b2);
                            b3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m).fma(x3, b3);
                        }
                        FloatVector sa = a0.add(a1).add(a2.add(a3));
                        sa = sa.add(sa.rearrange(VectorKernels.FOLD256_4));
                        sa = sa.add(sa.rearrange(VectorKernels.FOLD256_2));
                        out[outOff + i + p] = sa.add(sa.rearrange(VectorKernels.FOLD256_1)).lane(0);
                        FloatVector sb = b0.add(b1).add(b2.add(b3));
                        sb = sb.add(sb.rearrange(VectorKernels.FOLD256_4));
                        sb = sb.add(sb.rearrange(VectorKernels.FOLD256_2));
                        out[outOff + i + p + 1] = sb.add(sb.rearrange(VectorKernels.FOLD256_1)).lane(0);
                    }
                }
            }
        }
        for (; i < n; i++) out[outOff + i] = dotRow(data, offset + i * rowBytes, cols, x, xOff);
    }
}
