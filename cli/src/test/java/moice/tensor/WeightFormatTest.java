package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class WeightFormatTest {
    /** All 65536 binary16 patterns at an odd byte offset, in a segment shaped like a mapped file. */
    private static MemorySegment allHalfPatterns(Arena arena) {
        MemorySegment seg = arena.allocate(2 * 65536 + 8, 8).asSlice(5, 2 * 65536);
        for (int h = 0; h < 65536; h++) seg.set(TestWeights.LE_SHORT, 2L * h, (short) h);
        return seg;
    }

    @Test
    void f16VectorConversionIsBitExactToFloatFloat16ToFloatForEveryPattern() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = allHalfPatterns(arena);
            float[] dst = new float[65536 + 3];
            // many rounds and odd chunk sizes so the compiled (vectorised) loop and its tails are what gets checked
            for (int round = 0; round < 60; round++) {
                int chunk = new int[] {65536, 4096, 1000, 17, 7}[round % 5];
                for (int start = 0; start < 65536; start += chunk) {
                    int n = Math.min(chunk, 65536 - start);
                    F16Format.INSTANCE.dequantizeRow(seg, 2L * start, n, dst, 3 + start);
                }
                for (int h = 0; h < 65536; h++) {
                    int expected = Float.floatToRawIntBits(Float.float16ToFloat((short) h));
                    int actual = Float.floatToRawIntBits(dst[3 + h]);
                    if (expected != actual)
                        throw new AssertionError(String.format("f16 %04x: expected %08x got %08x", h, expected, actual));
                }
            }
        }
    }

    @Test
    void f16ScalarTwinDecodesTheDefinition() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = allHalfPatterns(arena);
            float[] dst = new float[65536];
            F16Format.INSTANCE.dequantizeRowScalar(seg, 0, 65536, dst, 0);
            for (int h = 0; h < 65536; h++) {
                float expected = Float.float16ToFloat((short) h);
                int eb = Float.floatToRawIntBits(expected), ab = Float.floatToRawIntBits(dst[h]);
                if (Float.isNaN(expected)) {
                    // the JDK's portable fallback keeps signalling NaNs signalling, F16C quiets them: compare all
                    // but the quiet bit
                    assertTrue(Float.isNaN(dst[h]), "NaN " + Integer.toHexString(h));
                    assertEquals(eb | 0x400000, ab | 0x400000, "NaN payload " + Integer.toHexString(h));
                } else {
                    assertEquals(eb, ab, "f16 " + Integer.toHexString(h));
                }
            }
            // hand-checked values
            assertEquals(1f, dst[0x3c00]);
            assertEquals(-2f, dst[0xc000]);
            assertEquals(65504f, dst[0x7bff]);
            assertEquals(0x1p-24f, dst[0x0001]);
            assertEquals(0x1p-14f - 0x1p-24f, dst[0x03ff]);
            assertEquals(Float.NEGATIVE_INFINITY, dst[0xfc00]);
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(dst[0x8000]));
        }
    }

    @Test
    void bf16IsTheUpperHalfOfABinary32ForEveryPattern() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = allHalfPatterns(arena);
            float[] vec = new float[65536], scalar = new float[65536];
            for (int round = 0; round < 30; round++) {
                BF16Format.INSTANCE.dequantizeRow(seg, 0, 65536, vec, 0);
                BF16Format.INSTANCE.dequantizeRowScalar(seg, 0, 65536, scalar, 0);
                for (int h = 0; h < 65536; h++) {
                    assertEquals(h << 16, Float.floatToRawIntBits(vec[h]));
                    assertEquals(h << 16, Float.floatToRawIntBits(scalar[h]));
                }
            }
            assertEquals(1f, vec[0x3f80]);
            assertEquals(-3f, vec[0xc040]);
        }
    }

    @Test
    void f32RowsAreCopiedExactlyFromUnalignedLittleEndianBytes() {
        SplittableRandom rnd = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            Matrix w = TestWeights.random(DType.F32, 3, 37, rnd, arena);
            float[] v = new float[40], s = new float[40];
            for (int r = 0; r < 3; r++) {
                F32Format.INSTANCE.dequantizeRow(w.data(), r * w.rowBytes(), 37, v, 2);
                F32Format.INSTANCE.dequantizeRowScalar(w.data(), r * w.rowBytes(), 37, s, 2);
                assertArrayEquals(s, v);
                for (int k = 0; k < 37; k++) {
                    long at = r * w.rowBytes() + 4L * k;
                    int bits = 0;
                    for (int b = 3; b >= 0; b--) bits = bits << 8 | (w.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, at + b) & 0xff);
                    assertEquals(bits, Float.floatToRawIntBits(v[2 + k]));
                }
            }
        }
    }

    @Test
    void everyTypeMapsToItsFormat() {
        for (DType t : DType.values()) assertSame(t, t.format().type());
    }
}
