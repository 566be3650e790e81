package moice.tensor;

/**
 * Storage formats of weights as they lie in a file. Quantised formats store rows as blocks of {@code blockSize}
 * values in {@code blockBytes} bytes; plain formats have a block of one value.
 */
public enum DType {
    F32(1, 4),
    F16(1, 2),
    BF16(1, 2);

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
        };
    }

    /** Bytes needed for {@code n} values; {@code n} must be a multiple of {@link #blockSize}. */
    public long bytesFor(long n) {
        if (n % blockSize != 0) throw new IllegalArgumentException(this + ": " + n + " values is not a multiple of " + blockSize);
        return n / blockSize * blockBytes;
    }
}
