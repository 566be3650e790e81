package moice.tensor;

/**
 * Storage formats of weights as they lie in a file. Quantised formats store rows as blocks of {@code blockSize}
 * values in {@code blockBytes} bytes; plain formats have a block of one value.
 */
public enum DType {
    F32(1, 4),
    F16(1, 2),
    BF16(1, 2),
    /** ggml Q8_0: 32 int8 and an f16 scale. */
    Q8_0(32, 34),
    /** ggml Q4_0: 32 nibbles and an f16 scale, zero point 8. */
    Q4_0(32, 18),
    /** ggml Q4_1: 32 nibbles, an f16 scale and an f16 offset. */
    Q4_1(32, 20),
    /** ggml Q5_0: 32 nibbles, 32 fifth bits and an f16 scale, zero point 16. */
    Q5_0(32, 22),
    /** ggml Q5_1: 32 nibbles, 32 fifth bits, an f16 scale and an f16 offset. */
    Q5_1(32, 24),
    /** ggml Q4_K: super-blocks of 256 nibbles with eight 6-bit sub-block scales and mins. */
    Q4_K(256, 144),
    /** ggml Q5_K: as Q4_K with a fifth bit per value. */
    Q5_K(256, 176),
    /** ggml Q6_K: super-blocks of 256 six-bit values with sixteen int8 sub-block scales. */
    Q6_K(256, 210);

    /** Values per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int blockBytes;

    DType(int blockSize, int blockBytes) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The kernels that read this storage type. */
    public WeightFormat format() {
        return switch (this) {
            case F32 -> F32Format.INSTANCE;
            case F16 -> F16Format.INSTANCE;
            case BF16 -> BF16Format.INSTANCE;
            case Q8_0 -> Q8_0Format.INSTANCE;
            case Q4_0 -> Q4_0Format.INSTANCE;
            case Q4_1 -> Q4_1Format.INSTANCE;
            case Q5_0 -> Q5_0Format.INSTANCE;
            case Q5_1 -> Q5_1Format.INSTANCE;
            case Q4_K -> Q4KFormat.INSTANCE;
            case Q5_K -> Q5KFormat.INSTANCE;
            case Q6_K -> Q6KFormat.INSTANCE;
        };
    }

    /** Bytes needed for {@code n} values; {@code n} must be a multiple of {@link #blockSize}. */
    public long bytesFor(long n) {
        if (n % blockSize != 0) throw new IllegalArgumentException(this + ": " + n + " values is not a multiple of " + blockSize);
        return n / blockSize * blockBytes;
    }
}
