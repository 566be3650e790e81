package moice.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** bfloat16, little-endian: the upper 16 bits of a binary32, so conversion is a shift. */
final class BF16Format implements WeightFormat {
    static final BF16Format INSTANCE = new BF16Format();
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final VectorSpecies<Short> HALF =
            VectorSpecies.of(short.class, VectorShape.forBitSize(VectorKernels.S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> WIDE = VectorSpecies.of(int.class, VectorKernels.S.vectorShape());
    private static final int L = VectorKernels.L;

    private BF16Format() {}

    @Override
    public DType type() { return DType.BF16; }

    /**
     * Widen L shorts to ints and shift them into the upper half (C2 does not auto-vectorise the plain loop: measured
     * 0.43 ns per value scalar).
     */
    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        int k = 0;
        for (; k <= cols - L; k += L) {
            ShortVector bits = ShortVector.fromMemorySegment(HALF, data, offset + 2L * k, ByteOrder.LITTLE_ENDIAN);
            ((IntVector) bits.convertShape(VectorOperators.S2I, WIDE, 0)).lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats().intoArray(dst, dstOff + k);
        }
        for (; k < cols; k++) dst[dstOff + k] = Float.intBitsToFloat(data.get(LE_SHORT, offset + 2L * k) << 16);
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
