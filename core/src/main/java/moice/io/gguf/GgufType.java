package moice.io.gguf;

import java.util.Optional;

/**
 * Tensor storage types of GGUF files (ggml's {@code ggml_type}), with the file's numeric id and the block geometry
 * needed to size a tensor. A row of {@code n} values takes {@code n / blockSize * blockBytes} bytes.
 *
 * <p>Ids follow {@code GGMLQuantizationType} of the {@code gguf} Python package (0.19). Ids 4, 5, 31–33 and 36–38
 * belonged to formats that ggml has removed and are treated as unknown. Every listed type can be parsed and sized;
 * only types with {@link #dequantSupported()} can be turned into numbers (by moice.tensor's weight formats).
 */
public enum GgufType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, true),
    Q5_0(6, 32, 22, true),
    Q5_1(7, 32, 24, true),
    Q8_0(8, 32, 34, true),
    /** ggml's block is two f16 plus 32 int8 (36 bytes); the Python package still lists 40 (its old f32 layout). */
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, false),
    Q3_K(11, 256, 110, false),
    Q4_K(12, 256, 144, true),
    Q5_K(13, 256, 176, true),
    Q6_K(14, 256, 210, true),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, false),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, false),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    MXFP4(39, 32, 17, false),
    NVFP4(40, 64, 36, false),
    Q1_0(41, 128, 18, false);

    /** The id stored in the file's tensor info. */
    public final int id;
    /** Values per block; a row length must be a multiple of it. */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;
    private final boolean dequantSupported;

    private static final GgufType[] BY_ID = new GgufType[64];

    static {
        for (GgufType t : values()) BY_ID[t.id] = t;
    }

    GgufType(int id, int blockSize, int blockBytes, boolean dequantSupported) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.dequantSupported = dequantSupported;
    }

    /** The type with file id {@code id}, or empty for ids ggml does not define (or no longer defines). */
    public static Optional<GgufType> fromId(long id) {
        if (id < 0 || id >= BY_ID.length) return Optional.empty();
        return Optional.ofNullable(BY_ID[(int) id]);
    }

    /** Whether moice can decode this type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K). */
    public boolean dequantSupported() {
        return dequantSupported;
    }

    /**
     * Bytes of a row of {@code n} values; {@code n} must be a non-negative multiple of {@link #blockSize}.
     *
     * @throws IllegalArgumentException if it is not (callers validate file data before asking)
     * @throws ArithmeticException if the byte count overflows a long
     */
    public long rowBytes(long n) {
        if (n < 0 || n % blockSize != 0)
            throw new IllegalArgumentException(this + ": row of " + n + " values is not a multiple of " + blockSize);
        return Math.multiplyExact(n / blockSize, (long) blockBytes);
    }
}
