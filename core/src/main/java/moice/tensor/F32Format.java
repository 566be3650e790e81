package moice.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** IEEE binary32, little-endian: a bulk copy. */
final class F32Format implements WeightFormat {
    static final F32Format INSTANCE = new F32Format();
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private F32Format() {}

    @Override
    public DType type() { return DType.F32; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        MemorySegment.copy(data, LE_FLOAT, offset, dst, dstOff, cols);
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        for (int k = 0; k < cols; k++) dst[dstOff + k] = Float.intBitsToFloat(data.get(LE_INT, offset + 4L * k));
    }
}
