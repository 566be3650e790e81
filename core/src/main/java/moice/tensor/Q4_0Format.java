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
 * ggml's Q4_0: blocks of 32 values in 18 bytes, an f16 scale {@code d} then 16 bytes of nibbles; value {@code j < 16}
 * is the low nibble of byte {@code j}, value {@code j ≥ 16} the high nibble of byte {@code j-16}; value
 * {@code d·(q-8)} in float32.
 */
final class Q4_0Format implements WeightFormat, RowDot {
    static final Q4_0Format INSTANCE = new Q4_0Format();
    private static final int BLOCK = 32, BYTES = 18;

    private Q4_0Format() {}

    @Override
    public DType type() { return DType.Q4_0; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q4_0, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j += 8) {
                var q = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 2 + j, LE).convertShape(B2I, I8, 0);
                ((FloatVector) q.and(0xF).sub(8).convertShape(I2F, F8, 0)).mul(d).intoArray(dst, out + j);
                ((FloatVector) q.lanewise(LSHR, 4).and(0xF).sub(8).convertShape(I2F, F8, 0)).mul(d).intoArray(dst, out + 16 + j);
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q4_0, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < 16; j++) {
                int q = QuantBlocks.u8(data, block + 2 + j);
                dst[out + j] = d * ((q & 0xF) - 8);
                dst[out + j + 16] = d * ((q >>> 4) - 8);
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
        QuantBlocks.checkCols(DType.Q4_0, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block);
            int xb = xOff + BLOCK * b;
            var q0 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 2, LE).convertShape(B2I, I8, 0);
            var q1 = (IntVector) ByteVector.fromMemorySegment(B8, row, block + 10, LE).convertShape(B2I, I8, 0);
            var w0 = ((FloatVector) q0.and(0xF).sub(8).convertShape(I2F, F8, 0)).mul(d);
            var w1 = ((FloatVector) q1.and(0xF).sub(8).convertShape(I2F, F8, 0)).mul(d);
            var w2 = ((FloatVector) q0.lanewise(LSHR, 4).and(0xF).sub(8).convertShape(I2F, F8, 0)).mul(d);
            var w3 = ((FloatVector) q1.lanewise(LSHR, 4).and(0xF).sub(8).convertShape(I2F, F8, 0)).mul(d);
            a0 = w0.fma(FloatVector.fromArray(F8, x, xb), a0);
            a1 = w1.fma(FloatVector.fromArray(F8, x, xb + 8), a1);
            a2 = w2.fma(FloatVector.fromArray(F8, x, xb + 16), a2);
            a3 = w3.fma(FloatVector.fromArray(F8, x, xb + 24), a3);
        }
        return VectorKernels.sumLanes256(a0.add(a1).add(a2.add(a3)));
    }
}
