package moice.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Random rows of the block-quantised formats: uniformly random bytes (every bit of every packed field exercised) with
 * each f16 scale field overwritten by a finite value, as a quantiser would write.
 */
final class QuantTestData {
    /** The quantised types, in {@link DType} order. */
    static final DType[] TYPES = {DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q4_K, DType.Q5_K, DType.Q6_K};

    private QuantTestData() {}

    /** Byte offsets of the f16 fields inside one block of {@code type}. */
    static int[] halfFields(DType type) {
        return switch (type) {
            case Q8_0, Q4_0, Q5_0 -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
            default -> throw new IllegalArgumentException(type + " is not block-quantised");
        };
    }

    /** How the f16 fields are drawn. */
    enum Scales {
        /** Any finite binary16 pattern: zeros, subnormals, ±65504, both signs. */
        ANY_FINITE,
        /** Magnitudes 2^-9 .. 2^-3 of either sign: weights of order 0.01–1, so products stay well scaled. */
        TYPICAL
    }

    /** {@code blocks} random blocks of {@code type} at an odd byte offset of a fresh segment. */
    static MemorySegment blocks(DType type, long blocks, Scales scales, SplittableRandom rnd, Arena arena) {
        long bytes = blocks * type.blockBytes;
        MemorySegment data = arena.allocate(bytes + 16, 8).asSlice(3, bytes);
        for (long i = 0; i < bytes; i++) data.set(QuantBlocks.BYTE, i, (byte) rnd.nextInt(256));
        int[] fields = halfFields(type);
        for (long b = 0; b < blocks; b++)
            for (int f : fields) data.set(QuantBlocks.LE_SHORT, b * type.blockBytes + f, half(scales, rnd));
        return data;
    }

    /** A random {@code [rows, cols]} matrix of {@code type} with {@link Scales#TYPICAL} scales. */
    static Matrix matrix(DType type, int rows, int cols, SplittableRandom rnd, Arena arena) {
        MemorySegment data = blocks(type, (long) rows * cols / type.blockSize, Scales.TYPICAL, rnd, arena);
        return new Matrix("test." + type, type, rows, cols, data);
    }

    static short half(Scales scales, SplittableRandom rnd) {
        return switch (scales) {
            case ANY_FINITE -> {
                int bits;
                do bits = rnd.nextInt(65536); while ((bits & 0x7c00) == 0x7c00);
                yield (short) bits;
            }
            case TYPICAL -> {
                float magnitude = (float) Math.scalb(1 + rnd.nextDouble(), -9 + rnd.nextInt(7));
                yield Float.floatToFloat16(rnd.nextBoolean() ? magnitude : -magnitude);
            }
        };
    }
}
