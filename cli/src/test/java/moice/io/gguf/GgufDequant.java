package moice.io.gguf;

import moice.MoiceException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Exact scalar dequantisation of GGUF rows to float32: the reference that quantised kernels are tested against.
 *
 * <p>Each routine reads {@code count} values (a multiple of the type's block size) starting at byte {@code offset}
 * of {@code src} and writes them to {@code dst[dstOffset ..]}. Arithmetic is float32 in the same order as ggml's
 * {@code dequantize_row_*} and the {@code gguf} Python package ({@code d * q - m}, never fused), so results are
 * bit-identical to theirs. Block layouts (all little-endian, {@code f16} = IEEE half):
 * <ul>
 *   <li>Q8_0 (34 B / 32): f16 d, int8 q[32]; {@code y = q·d}.</li>
 *   <li>Q4_0 (18 B / 32): f16 d, u8 qs[16]; value j &lt; 16 is the low nibble of qs[j], j ≥ 16 the high nibble of
 *       qs[j-16]; {@code y = d·(q-8)}.</li>
 *   <li>Q4_1 (20 B / 32): f16 d, f16 m, nibbles as Q4_0; {@code y = d·q + m}.</li>
 *   <li>Q5_0 (22 B / 32): f16 d, u32 qh, u8 qs[16]; the low four bits as Q4_0, bit j of qh is the fifth bit of
 *       value j; {@code y = d·(q-16)}.</li>
 *   <li>Q5_1 (24 B / 32): f16 d, f16 m, u32 qh, u8 qs[16] as Q5_0; {@code y = d·q + m}.</li>
 *   <li>Q4_K (144 B / 256): f16 d, f16 dmin, 12 bytes of eight 6-bit (scale, min) pairs, u8 qs[128]; sub-block j
 *       (32 values) uses nibble j%2 of qs[32·(j/2) ..]; {@code y = (d·sc_j)·q - (dmin·m_j)}.</li>
 *   <li>Q5_K (176 B / 256): as Q4_K plus u8 qh[32] before qs; bit j of qh[l] is the fifth bit of value l of
 *       sub-block j.</li>
 *   <li>Q6_K (210 B / 256): u8 ql[128], u8 qh[64], int8 scales[16], f16 d; each 128-value half uses 64 ql bytes
 *       (two nibble planes) and 32 qh bytes (four 2-bit planes); {@code y = (d·scale_{i/16})·(q-32)}.</li>
 * </ul>
 */
/* Test-scope reference: an independent scalar decoder of every supported GGUF type, checked bit for bit against
   the gguf Python package (GgufFixtureTest); the product decodes with moice.tensor's weight formats. */
public final class GgufDequant {
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    private GgufDequant() {}

    /**
     * Dequantises {@code count} values of {@code type}.
     *
     * @throws MoiceException if {@code type} is not one moice decodes ({@link GgufType#dequantSupported()})
     * @throws IllegalArgumentException if {@code count} is not a multiple of the block size
     * @throws IndexOutOfBoundsException if the bytes or {@code dst} are too short (a caller bug: tensor views are
     *                                   validated against the file at open)
     */
    public static void dequantize(GgufType type, MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        if (count % type.blockSize != 0)
            throw new IllegalArgumentException(type + ": " + count + " values is not a multiple of the block size " + type.blockSize);
        switch (type) {
            case F32 -> MemorySegment.copy(src, GgufReader.F32, offset, dst, dstOffset, count);
            case F16 -> dequantizeF16(src, offset, dst, dstOffset, count);
            case BF16 -> dequantizeBF16(src, offset, dst, dstOffset, count);
            case Q8_0 -> dequantizeQ8_0(src, offset, dst, dstOffset, count);
            case Q4_0 -> dequantizeQ4_0(src, offset, dst, dstOffset, count);
            case Q4_1 -> dequantizeQ4_1(src, offset, dst, dstOffset, count);
            case Q5_0 -> dequantizeQ5(src, offset, dst, dstOffset, count, false);
            case Q5_1 -> dequantizeQ5(src, offset, dst, dstOffset, count, true);
            case Q4_K -> dequantizeQ4_K(src, offset, dst, dstOffset, count);
            case Q5_K -> dequantizeQ5_K(src, offset, dst, dstOffset, count);
            case Q6_K -> dequantizeQ6_K(src, offset, dst, dstOffset, count);
            default -> throw new MoiceException("GGUF type " + type + " cannot be dequantised (moice reads F32, F16, BF16, "
                    + "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
        }
    }

    public static void dequantizeF16(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) dst[dstOffset + i] = Float.float16ToFloat(src.get(GgufReader.I16, offset + 2L * i));
    }

    public static void dequantizeBF16(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) dst[dstOffset + i] = Float.intBitsToFloat(src.get(GgufReader.I16, offset + 2L * i) << 16);
    }

    public static void dequantizeQ8_0(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long block = offset + 34L * b;
            float d = half(src, block);
            int out = dstOffset + 32 * b;
            for (int j = 0; j < 32; j++) dst[out + j] = src.get(I8, block + 2 + j) * d;
        }
    }

    public static void dequantizeQ4_0(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long block = offset + 18L * b;
            float d = half(src, block);
            int out = dstOffset + 32 * b;
            for (int j = 0; j < 16; j++) {
                int q = u8(src, block + 2 + j);
                dst[out + j] = d * ((q & 0xF) - 8);
                dst[out + j + 16] = d * ((q >>> 4) - 8);
            }
        }
    }

    public static void dequantizeQ4_1(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long block = offset + 20L * b;
            float d = half(src, block);
            float m = half(src, block + 2);
            int out = dstOffset + 32 * b;
            for (int j = 0; j < 16; j++) {
                int q = u8(src, block + 4 + j);
                dst[out + j] = d * (q & 0xF) + m;
                dst[out + j + 16] = d * (q >>> 4) + m;
            }
        }
    }

    /** Q5_0 ({@code withMin} false: d, qh, qs) or Q5_1 (true: d, m, qh, qs). */
    public static void dequantizeQ5(MemorySegment src, long offset, float[] dst, int dstOffset, int count, boolean withMin) {
        int blockBytes = withMin ? 24 : 22;
        for (int b = 0; b < count / 32; b++) {
            long block = offset + (long) blockBytes * b;
            float d = half(src, block);
            float m = withMin ? half(src, block + 2) : 0f;
            long qhAt = block + (withMin ? 4 : 2);
            int qh = src.get(GgufReader.I32, qhAt);
            for (int i = 0; i < 32; i++) {
                int nibbles = u8(src, qhAt + 4 + (i & 15));
                int q = (i < 16 ? nibbles & 0xF : nibbles >>> 4) | ((qh >>> i) & 1) << 4;
                dst[dstOffset + 32 * b + i] = withMin ? d * q + m : d * (q - 16);
            }
        }
    }

    public static void dequantizeQ4_K(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 256; b++) {
            long block = offset + 144L * b;
            float d = half(src, block);
            float dmin = half(src, block + 2);
            long scales = block + 4;
            long qs = block + 16;
            int out = dstOffset + 256 * b;
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(src, scales, j);
                float min = dmin * kMin(src, scales, j);
                long bytes = qs + 32L * (j / 2);
                int shift = 4 * (j % 2);
                for (int l = 0; l < 32; l++) {
                    int q = (u8(src, bytes + l) >>> shift) & 0xF;
                    dst[out + 32 * j + l] = scale * q - min;
                }
            }
        }
    }

    public static void dequantizeQ5_K(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 256; b++) {
            long block = offset + 176L * b;
            float d = half(src, block);
            float dmin = half(src, block + 2);
            long scales = block + 4;
            long qh = block + 16;
            long qs = block + 48;
            int out = dstOffset + 256 * b;
            for (int j = 0; j < 8; j++) {
                float scale = d * kScale(src, scales, j);
                float min = dmin * kMin(src, scales, j);
                long bytes = qs + 32L * (j / 2);
                int shift = 4 * (j % 2);
                for (int l = 0; l < 32; l++) {
                    int q = (u8(src, bytes + l) >>> shift) & 0xF | ((u8(src, qh + l) >>> j) & 1) << 4;
                    dst[out + 32 * j + l] = scale * q - min;
                }
            }
        }
    }

    public static void dequantizeQ6_K(MemorySegment src, long offset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 256; b++) {
            long block = offset + 210L * b;
            long ql = block;
            long qh = block + 128;
            long scales = block + 192;
            float d = half(src, block + 208);
            int out = dstOffset + 256 * b;
            for (int half = 0; half < 2; half++) {
                long qlHalf = ql + 64L * half;
                long qhHalf = qh + 32L * half;
                for (int i = 0; i < 128; i++) {
                    int low = (u8(src, qlHalf + (i & 63)) >>> (4 * (i >>> 6))) & 0xF;
                    int high = (u8(src, qhHalf + (i & 31)) >>> (2 * (i >>> 5))) & 3;
                    int e = 128 * half + i;
                    float scale = d * src.get(I8, scales + (e >>> 4));
                    dst[out + e] = scale * ((low | high << 4) - 32);
                }
            }
        }
    }

    /**
     * The 6-bit scale of sub-block {@code j} (0..7) of a Q4_K/Q5_K block: bytes 0–3 hold scales 0–3 in their low six
     * bits; scales 4–7 take their low four bits from bytes 8–11 and their top two from the top of bytes 0–3.
     */
    public static int kScale(MemorySegment src, long scales, int j) {
        if (j < 4) return u8(src, scales + j) & 63;
        return u8(src, scales + j + 4) & 0xF | (u8(src, scales + j - 4) >>> 6) << 4;
    }

    /** The 6-bit min of sub-block {@code j}: like {@link #kScale} with bytes 4–7 and the high nibbles of 8–11. */
    public static int kMin(MemorySegment src, long scales, int j) {
        if (j < 4) return u8(src, scales + j + 4) & 63;
        return u8(src, scales + j + 4) >>> 4 | (u8(src, scales + j) >>> 6) << 4;
    }

    private static float half(MemorySegment src, long at) {
        return Float.float16ToFloat(src.get(GgufReader.I16, at));
    }

    private static int u8(MemorySegment src, long at) {
        return Byte.toUnsignedInt(src.get(I8, at));
    }
}
