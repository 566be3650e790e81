package moice.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Shared pieces of the block-quantised formats: little-endian loads and the 8-lane vector shapes their kernels use.
 *
 * <p>The quantised kernels work on groups of 8 values (a quarter of a 32-value block): 8 bytes widen to 8 int lanes,
 * which convert to 8 float lanes. That needs 256-bit vectors ({@link #VECTOR}); on CPUs whose widest vectors are
 * narrower the formats use plain loops with the same arithmetic, so results are identical either way.
 *
 * <p>Why the kernels spell out their vector expressions instead of sharing small helpers such as "load 8 bytes as
 * ints": C2 stops inlining once a compilation grows past its node budget ({@code NodeCountInliningCutoff}), and a
 * user-level helper that is then left as a call boxes its vectors, which costs about 10× (seen intermittently in
 * measurements). The Vector API's own methods are force-inlined past that budget, so a kernel made only of them stays
 * fast whether it is compiled alone or inlined into a caller.
 *
 * <p>The vector loops read a slice of the row addressed from 0 rather than the whole tensor at {@code offset + …}: with
 * offsets that are a plain function of the loop index C2 hoists the segment bounds checks out of the loop (measured
 * about 8 % on Q4_1 decode; using a fused multiply-add where the product is exact gained about 10 % more).
 *
 * <p>Bit-identity of the vector and scalar paths holds for finite f16 scales (every quantiser writes those); with a
 * NaN or infinite scale both give NaN or infinity where the definition does, but NaN payloads may differ.
 */
final class QuantBlocks {
    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    static final VectorSpecies<Byte> B8 = ByteVector.SPECIES_64;
    /** Whether the CPU runs 8-float vectors natively (AVX2, AVX-512, SVE ≥ 256); else the plain loops run. */
    static final boolean VECTOR = VectorKernels.S.vectorBitSize() >= 256;

    /** 16-lane shapes: half a 32-value block per vector (16 bytes widen to 16 int or float lanes). */
    static final VectorSpecies<Float> FW = FloatVector.SPECIES_512;
    static final VectorSpecies<Integer> IW = IntVector.SPECIES_512;
    static final VectorSpecies<Byte> BW = ByteVector.SPECIES_128;
    /**
     * Whether the preferred vectors are exactly 512 bits (AVX-512): the Q4_1 and Q8_0 row dots then take a block in two
     * 16-lane vectors instead of four 8-lane ones, half the instructions per weight. Their sums are grouped differently
     * from the 8-lane kernels' (within the same reordered-dot bound), but every entry point of a format (one row, a
     * group of rows, several tokens) uses the same grouping on a given width, so they agree bit for bit.
     */
    static final boolean WIDE = VectorKernels.S.vectorBitSize() == 512;

    /** Lanes 0..7: per-lane shift counts that pick bit {@code lane} of a broadcast word (Q5_0/Q5_1 fifth bits). */
    static final IntVector LANE_INDEX = IntVector.zero(I8).addIndex(1);

    private QuantBlocks() {}

    /** The f16 at {@code at} as float (the JDK conversion; F16C on x86). */
    static float half(MemorySegment data, long at) {
        return Float.float16ToFloat(data.get(LE_SHORT, at));
    }

    /** The f16 at {@code at} decoded from the binary16 definition (reference path). */
    static float halfScalar(MemorySegment data, long at) {
        return F16Format.decode(data.get(LE_SHORT, at));
    }

    /** Byte {@code at} as 0..255. */
    static int u8(MemorySegment data, long at) {
        return Byte.toUnsignedInt(data.get(BYTE, at));
    }

    /** The little-endian u32 at {@code at} as 0..2^32−1. */
    static long u32(MemorySegment data, long at) {
        return Integer.toUnsignedLong(data.get(LE_INT, at));
    }

    /** Byte {@code at} as −128..127. */
    static int s8(MemorySegment data, long at) {
        return data.get(BYTE, at);
    }

    /**
     * The 6-bit scale of sub-block {@code j} (0..7) of a Q4_K/Q5_K block whose 12 packed scale bytes start at
     * {@code scales}: bytes 0–3 hold scales 0–3 in their low six bits; scales 4–7 take their low four bits from bytes
     * 8–11 and their top two from the top of bytes 0–3.
     */
    static int kScale(MemorySegment data, long scales, int j) {
        if (j < 4) return u8(data, scales + j) & 63;
        return u8(data, scales + j + 4) & 0xF | (u8(data, scales + j - 4) >>> 6) << 4;
    }

    /** The 6-bit min of sub-block {@code j}: as {@link #kScale} with bytes 4–7 and the high nibbles of bytes 8–11. */
    static int kMin(MemorySegment data, long scales, int j) {
        if (j < 4) return u8(data, scales + j + 4) & 63;
        return u8(data, scales + j + 4) >>> 4 | (u8(data, scales + j) >>> 6) << 4;
    }

    /**
     * {@link RowDot#dotRow} for CPUs without 8-float vectors: dequantises one block at a time into a small array and
     * sums the products left to right.
     */
    static float dotByBlocks(WeightFormat format, MemorySegment data, long offset, int cols, float[] x, int xOff) {
        DType type = format.type();
        float[] values = new float[type.blockSize];
        float s = 0;
        for (int b = 0; b < cols / type.blockSize; b++) {
            format.dequantizeRow(data, offset + (long) type.blockBytes * b, type.blockSize, values, 0);
            for (int k = 0; k < type.blockSize; k++) s += values[k] * x[xOff + type.blockSize * b + k];
        }
        return s;
    }

    /** Throws unless {@code cols} is a whole number of blocks of {@code type}. */
    static void checkCols(DType type, int cols) {
        if (cols % type.blockSize != 0)
            throw new IllegalArgumentException(type + ": " + cols + " values is not a multiple of " + type.blockSize);
    }
}
