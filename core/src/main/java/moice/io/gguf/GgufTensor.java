package moice.io.gguf;

import moice.MoiceException;
import moice.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a GGUF file: its name, storage type, dimensions and a view of its bytes.
 *
 * <p>Dimensions are in GGUF order: {@code dim(0)} ({@code ne[0]}) is the fastest-varying one, the row length
 * (columns); the rest multiply to the number of rows. So a PyTorch {@code Linear} weight {@code [out, in]} appears
 * here as dims {@code [in, out]}. The view was checked at open to lie inside the file, to start at an aligned offset
 * and to hold exactly {@code rowCount() * rowBytes()} bytes. It is valid until the {@link GgufFile} is closed.
 */
public final class GgufTensor {
    private final String file;
    private final String name;
    private final GgufType type;
    private final long[] dims;
    private final long dataOffset;
    private final long fileOffset;
    private final long rowCount;
    private final long rowBytes;
    private final MemorySegment data;

    GgufTensor(String file, String name, GgufType type, long[] dims, long dataOffset, long fileOffset,
               long rowCount, long rowBytes, MemorySegment data) {
        this.file = file;
        this.name = name;
        this.type = type;
        this.dims = dims;
        this.dataOffset = dataOffset;
        this.fileOffset = fileOffset;
        this.rowCount = rowCount;
        this.rowBytes = rowBytes;
        this.data = data;
    }

    public String name() { return name; }

    public GgufType type() { return type; }

    /** Number of dimensions as stored (0 to 4). */
    public int nDims() { return dims.length; }

    /** The dimensions, fastest first ({@code ne[0], ne[1], ...}). */
    public long[] dims() { return dims.clone(); }

    /** {@code ne[i]}; 1 for {@code i >= nDims()}, as ggml pads shapes. */
    public long dim(int i) { return i < dims.length ? dims[i] : 1; }

    /** Values per row: {@code ne[0]} (1 for a 0-dimensional tensor). */
    public long rowLength() { return dim(0); }

    /** Number of rows: the product of {@code ne[1..]}. */
    public long rowCount() { return rowCount; }

    /** Number of values. */
    public long elementCount() { return rowLength() * rowCount; }

    /** Bytes of one row in the stored type. */
    public long rowBytes() { return rowBytes; }

    /** Offset of the data relative to the start of the file's data section (as stored in the file). */
    public long dataOffset() { return dataOffset; }

    /** Absolute offset of the data in the file. */
    public long fileOffset() { return fileOffset; }

    /** Bytes of the data: {@code rowCount() * rowBytes()}. */
    public long byteSize() { return data.byteSize(); }

    /** The tensor's bytes in stored format (little-endian); valid until the file is closed. */
    public MemorySegment data() { return data; }

    /** Fails with a {@link MoiceException} naming this tensor unless moice can decode its type. */
    public GgufTensor requireDequantSupported() {
        if (!type.dequantSupported())
            throw new MoiceException(file + ": tensor " + GgufReader.quote(name) + ": type " + type
                    + " is not supported (moice reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
        return this;
    }

    /** Writes row {@code row} as float32 into {@code dst[dstOffset .. dstOffset + rowLength())}. */
    public void dequantizeRow(long row, float[] dst, int dstOffset) {
        requireDequantSupported();
        if (row < 0 || row >= rowCount) throw new IndexOutOfBoundsException(name + ": row " + row + " of " + rowCount);
        // the weight formats' plain-loop decoders; checked bit for bit against the gguf package in the tests
        DType.valueOf(type.name()).format().dequantizeRowScalar(data, row * rowBytes, Math.toIntExact(rowLength()), dst, dstOffset);
    }

    /** All values as float32, row after row (for tests and small tensors such as norms). */
    public float[] toFloats() {
        requireDequantSupported();
        long n = elementCount();
        if (n > GgufReader.MAX_JAVA_ARRAY)
            throw new MoiceException(file + ": tensor " + GgufReader.quote(name) + ": " + n + " values do not fit a Java array");
        float[] out = new float[(int) n];
        int rowLength = (int) rowLength();
        for (long r = 0; r < rowCount; r++) dequantizeRow(r, out, (int) (r * rowLength));
        return out;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(dims);
    }
}
