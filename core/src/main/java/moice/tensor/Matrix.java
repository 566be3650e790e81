package moice.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A frozen weight matrix {@code W[rows, cols]} (PyTorch {@code Linear} layout {@code [out, in]}), viewed in its stored
 * format over a (usually memory-mapped) segment. A 1-D tensor is a matrix with one row.
 *
 * <p>Contract: {@code data} holds exactly {@code rows * type.bytesFor(cols)} bytes, row-major, little-endian, at any
 * alignment, and is readable from any thread (a shared, global or automatic arena, as for a mapped file): the
 * {@link Parallel} workers read it.
 */
public final class Matrix {
    private final String name;
    private final DType type;
    private final int rows;
    private final int cols;
    private final MemorySegment data;
    private final long rowBytes;

    public Matrix(String name, DType type, int rows, int cols, MemorySegment data) {
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.bytesFor(cols);
        if (data.byteSize() != rows * rowBytes)
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for " + type + " [" + rows + ", " + cols + "]");
        this.data = data;
    }

    public String name() { return name; }
    public DType type() { return type; }
    public int rows() { return rows; }
    public int cols() { return cols; }
    public MemorySegment data() { return data; }
    public long rowBytes() { return rowBytes; }

    /**
     * {@code out[t*rows + r] = Σ_k W[r,k] · x[t*cols + k]} for {@code t < T}: a GEMM of a block of T tokens
     * ({@code x} is {@code [T, cols]}, {@code out} is {@code [T, rows]}, both row-major). Runs on the shared pool.
     */
    public void matmul(float[] x, int T, float[] out) {
        Gemm.matmul(this, x, T, out);
    }

    /**
     * As {@link #matmul(float[], int, float[])} on slices: {@code out[outOff + t*outStride + r] = Σ_k W[r,k] ·
     * x[xOff + t*cols + k]} for {@code t < T}, {@code r < rows}; other elements of {@code out} are untouched.
     * {@code outStride ≥ rows} lets a caller write into columns of a wider row-major array (e.g. fused Q|K|V).
     * {@code x} and {@code out} must not overlap.
     *
     * @throws IllegalArgumentException if the slices do not fit the arrays
     */
    public void matmul(float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        Gemm.matmul(this, x, xOff, T, out, outOff, outStride);
    }

    /**
     * As {@link #matmul(float[], int, float[])}, each of the T rows computed exactly as a call with that row alone
     * ({@code T = 1}) computes it, bit for bit: for running single-token steps of different sequences together
     * (batched decode) without changing any of them. Block-quantised formats read each weight row once for all T
     * tokens (the row stays in L1 while it is dotted with each), which is where batching saves memory traffic; other
     * formats run the rows one by one.
     */
    public void matmulRowwise(float[] x, int T, float[] out) {
        Gemm.matmulRowwise(this, x, T, out);
    }

    /**
     * {@code outs[i][r] = Σ_k ws[i][r,k] · x[xOff + k]}: one token through several matrices of the same width (a
     * layer's q/k/v, or gate/up), each output exactly, bit for bit, what {@code ws[i].matmul(x, xOff, 1, outs[i], 0,
     * rows)} gives. Decode runs them as one job on the shared pool instead of one per matrix, which saves the
     * hand-offs between the threads and the wait for the slowest thread at the end of each small product.
     *
     * @throws IllegalArgumentException if the widths differ, an output is too short or x too short
     */
    public static void matmulEach(Matrix[] ws, float[] x, int xOff, float[][] outs) {
        Gemm.matmulEach(ws, x, xOff, outs);
    }

    /** Writes row {@code r} as float32 into {@code dst[off .. off+cols)}. */
    public void row(int r, float[] dst, int off) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(off, cols, dst.length);
        type.format().dequantizeRow(data, r * rowBytes, cols, dst, off);
    }

    /** All values as float32 (tests and small tensors such as norms and biases). */
    public float[] toFloats() {
        float[] a = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) row(r, a, r * cols);
        return a;
    }

    @Override
    public String toString() {
        return name + " " + type + " [" + rows + ", " + cols + "]";
    }
}
