package moice.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** bfloat16, little-endian: the upper 16 bits of a binary32, so conversion is a shift. */
final class BF16Format implements WeightFormat {
    static final BF16Format INSTANCE = new BF16Format();
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BF16Format() {}

    @Override
    public DType type() { return DType.BF16; }

    /** C2 auto-vectorises this loop (widening load + shift); see {@link F16Format#dequantizeRow}. */
    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        for (int k = 0; k < cols; k++) dst[dstOff + k] = Float.intBitsToFloat(data.get(LE_SHORT, offset + 2L * k) << 16);
    }

    /** Byte by byte from the definition, independent of how the vector loop widens the short. */
    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        for (int k = 0; k < cols; k++) {
            long at = offset + 2L * k;
            int lo = data.get(ValueLayout.JAVA_BYTE, at) & 0xff, hi = data.get(ValueLayout.JAVA_BYTE, at + 1) & 0xff;
            dst[dstOff + k] = Float.intBitsToFloat((hi << 24) | (lo << 16));
        }
    }
}
