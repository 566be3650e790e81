package moice.tensor;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
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

    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q4_1, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
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
     * Three tokens at a time: each block is dequantised once and dotted with three vectors, each token's products
     * accumulated exactly as {@link #dotRow} accumulates them (same weights, same FMAs, same order), so every result is
     * bit for bit {@link #dotRow}'s. Batched decode is where this pays: the dequantisation is shared.
     */
    @Override
    public void dotRows(MemorySegment data, long offset, int cols, float[] x, int xOff, int xStride, int T,
                        float[] out, int outOff, int outStride) {
        QuantBlocks.checkCols(DType.Q4_1, cols);
        int t = 0;
        if (QuantBlocks.VECTOR) {
            MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
            for (; t + 3 <= T; t += 3) {
                int x0 = xOff + t * xStride, x1 = x0 + xStride, x2 = x1 + xStride;
                FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
                FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
                for (int b = 0; b < cols / BLOCK; b++) {
                    long block = (long) BYTES * b;
                    float d = half(row, block), m = half(row, block + 2);
                    int xb = BLOCK * b;
                    var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 4, LE).convertShape(B2I, I8, 0);
                    var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 12, LE).convertShape(B2I, I8, 0);
                    var w0 = ((FloatVector) q0.and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
                    var w1 = ((FloatVector) q1.and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
                    var w2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
                    var w3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).convertShape(I2F, F8, 0)).fma(d, m);
                    a0 = w0.fma(FloatVector.fromArray(F8, x, x0 + xb), a0);
                    a1 = w1.fma(FloatVector.fromArray(F8, x, x0 + xb + 8), a1);
                    a2 = w2.fma(FloatVector.fromArray(F8, x, x0 + xb + 16), a2);
                    a3 = w3.fma(FloatVector.fromArray(F8, x, x0 + xb + 24), a3);
                    b0 = w0.fma(FloatVector.fromArray(F8, x, x1 + xb), b0);
                    b1 = w1.fma(FloatVector.fromArray(F8, x, x1 + xb + 8), b1);
                    b2 = w2.fma(FloatVector.fromArray(F8, x, x1 + xb + 16), b2);
                    b3 = w3.fma(FloatVector.fromArray(F8, x, x1 + xb + 24), b3);
                    c0 = w0.fma(FloatVector.fromArray(F8, x, x2 + xb), c0);
                    c1 = w1.fma(FloatVector.fromArray(F8, x, x2 + xb + 8), c1);
                    c2 = w2.fma(FloatVector.fromArray(F8, x, x2 + xb + 16), c2);
                    c3 = w3.fma(FloatVector.fromArray(F8, x, x2 + xb + 24), c3);
                }
                out[outOff + t * outStride] = VectorKernels.sumLanes256(a0.add(a1).add(a2.add(a3)));
                out[outOff + (t + 1) * outStride] = VectorKernels.sumLanes256(b0.add(b1).add(b2.add(b3)));
                out[outOff + (t + 2) * outStride] = VectorKernels.sumLanes256(c0.add(c1).add(c2.add(c3)));
            }
        }
        for (; t < T; t++) out[outOff + t * outStride] = dotRow(data, offset, cols, x, xOff + t * xStride);
    }
}
