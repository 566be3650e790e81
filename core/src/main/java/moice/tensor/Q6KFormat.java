package moice.tensor;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static moice.tensor.QuantBlocks.B8;
import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.I8;
import static moice.tensor.QuantBlocks.BW;
import static moice.tensor.QuantBlocks.FW;
import static moice.tensor.QuantBlocks.IW;
import static moice.tensor.QuantBlocks.LE;
import static moice.tensor.QuantBlocks.half;
import static moice.tensor.QuantBlocks.s8;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

/**
 * ggml's Q6_K: super-blocks of 256 values in 210 bytes: 128 bytes {@code ql}, 64 bytes {@code qh}, 16 int8 scales,
 * then f16 {@code d} (last). Each half of 128 values uses 64 {@code ql} bytes and 32 {@code qh} bytes: value
 * {@code i} of a half takes its low four bits from nibble {@code i/64} of {@code ql[i % 64]} and its top two from
 * bit pair {@code i/32} of {@code qh[i % 32]}; value {@code e} of the block is {@code (d·scale_{e/16})·(q − 32)} in
 * float32.
 */
final class Q6KFormat implements WeightFormat, RowDot {
    static final Q6KFormat INSTANCE = new Q6KFormat();
    private static final int BLOCK = 256, BYTES = 210, QH = 128, SCALES = 192, D = 208;

    private Q6KFormat() {}

    @Override
    public DType type() { return DType.Q6_K; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q6_K, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block + D);
            for (int e = 0; e < BLOCK; e += 16) {
                // 16 values of one quarter of a half share a scale, a ql nibble plane and a qh bit pair
                int half = e / 128, i = e % 128;
                long ql = block + 64L * half + i % 64, qh = block + QH + 32L * half + i % 32;
                int lowShift = 4 * (i / 64), highShift = 2 * (i / 32), out = dstOff + BLOCK * b + e;
                float scale = d * s8(row, block + SCALES + e / 16);
                for (int l = 0; l < 16; l += 8) {
                    var low = (IntVector) ByteVector.fromMemorySegment(B8, row, ql + l, LE).convertShape(B2I, I8, 0);
                    var high = (IntVector) ByteVector.fromMemorySegment(B8, row, qh + l, LE).convertShape(B2I, I8, 0);
                    var q = low.lanewise(LSHR, lowShift).and(0xF).or(high.lanewise(LSHR, highShift).and(3).lanewise(LSHL, 4));
                    ((FloatVector) q.sub(32).convertShape(I2F, F8, 0)).mul(scale).intoArray(dst, out + l);
                }
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q6_K, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block + D);
            for (int e = 0; e < BLOCK; e++) {
                int half = e / 128, i = e % 128;
                int low = (QuantBlocks.u8(data, block + 64 * half + i % 64) >>> 4 * (i / 64)) & 0xF;
                int high = (QuantBlocks.u8(data, block + QH + 32 * half + i % 32) >>> 2 * (i / 32)) & 3;
                float scale = d * s8(data, block + SCALES + e / 16);
                dst[dstOff + BLOCK * b + e] = scale * ((low | high << 4) - 32);
            }
        }
    }

    /** {@link #dotRow}'s grouping (see there); none on the plain-loop path. */
    @Override
    public Sums sums() {
        return QuantBlocks.VECTOR ? Sums.HALVES_OF_16 : null;
    }

    /** Grouped as {@link Q4KFormat#dotRow} (one 16-lane accumulator on AVX-512, two 8-lane ones otherwise; same bits). */
    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q6_K, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        return dot(data.asSlice(offset, (long) BYTES * (cols / BLOCK)), 0, cols, x, xOff);
    }

    /** Row by row, each exactly as {@link #dotRow}, with one slice for all {@code n} rows (see {@link Q8_0Format}). */
    @Override
    public void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                            float[] out, int outOff) {
        QuantBlocks.checkCols(DType.Q6_K, cols);
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
                float d = half(row, block + D);
                for (int e = 0; e < BLOCK; e += 16) {
                    int half = e / 128, i = e % 128;
                    long ql = block + 64L * half + i % 64, qh = block + QH + 32L * half + i % 32;
                    int lowShift = 4 * (i / 64), highShift = 2 * (i / 32), xb = xOff + BLOCK * b + e;
                    float scale = d * s8(row, block + SCALES + e / 16);
                    var low = (IntVector) ByteVector.fromMemorySegment(BW, row, ql, LE).convertShape(B2I, IW, 0);
                    var high = (IntVector) ByteVector.fromMemorySegment(BW, row, qh, LE).convertShape(B2I, IW, 0);
                    var q = low.lanewise(LSHR, lowShift).and(0xF).or(high.lanewise(LSHR, highShift).and(3).lanewise(LSHL, 4));
                    acc = ((FloatVector) q.sub(32).convertShape(I2F, FW, 0)).mul(scale).fma(FloatVector.fromArray(FW, x, xb), acc);
                }
            }
            return VectorKernels.sumLanes(acc);
        }
        FloatVector a0 = FloatVector.zero(F8), a1 = a0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) BYTES * b;
            float d = half(row, block + D);
            for (int e = 0; e < BLOCK; e += 16) {
                int half = e / 128, i = e % 128;
                long ql = block + 64L * half + i % 64, qh = block + QH + 32L * half + i % 32;
                int lowShift = 4 * (i / 64), highShift = 2 * (i / 32), xb = xOff + BLOCK * b + e;
                float scale = d * s8(row, block + SCALES + e / 16);
                var low0 = (IntVector) ByteVector.fromMemorySegment(B8, row, ql, LE).convertShape(B2I, I8, 0);
                var low1 = (IntVector) ByteVector.fromMemorySegment(B8, row, ql + 8, LE).convertShape(B2I, I8, 0);
                var high0 = (IntVector) ByteVector.fromMemorySegment(B8, row, qh, LE).convertShape(B2I, I8, 0);
                var high1 = (IntVector) ByteVector.fromMemorySegment(B8, row, qh + 8, LE).convertShape(B2I, I8, 0);
                var q0 = low0.lanewise(LSHR, lowShift).and(0xF).or(high0.lanewise(LSHR, highShift).and(3).lanewise(LSHL, 4));
                var q1 = low1.lanewise(LSHR, lowShift).and(0xF).or(high1.lanewise(LSHR, highShift).and(3).lanewise(LSHL, 4));
                a0 = ((FloatVector) q0.sub(32).convertShape(I2F, F8, 0)).mul(scale).fma(FloatVector.fromArray(F8, x, xb), a0);
                a1 = ((FloatVector) q1.sub(32).convertShape(I2F, F8, 0)).mul(scale).fma(FloatVector.fromArray(F8, x, xb + 8), a1);
            }
        }
        return VectorKernels.sumLanes256(a0.add(a1));
    }
}
