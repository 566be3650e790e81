package moice.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * GEMM of stored-format weights times float32 activations: {@code out[t, r] = Σ_k W[r, k]·x[t, k]}, on the shared
 * {@link Parallel} pool. Weights are read in their stored format and dequantised into small cache-resident buffers,
 * never as a whole.
 *
 * <p>Two paths:
 * <ul>
 *   <li>Decode ({@code T ≤ 4}): bandwidth-bound GEMV. Rows are split across threads; each weight row is streamed once,
 *       {@value #DECODE_ROWS} rows at a time, and dotted with all T tokens while it is in registers or L1: float32
 *       rows straight from the segment, other formats dequantised {@value #DECODE_CHUNK} columns at a time into an
 *       L1 buffer.</li>
 *   <li>Prefill: the tokens are transposed once into blocks of {@code 2·L} tokens ({@code L} = vector lanes), k-major,
 *       so a vector holds one column of 8 (AVX2) tokens. Each work item dequantises a panel of rows (about 256 KiB,
 *       L2-resident) and, for every token block, runs a {@value #MR}×2L register-blocked micro-kernel: per k it loads
 *       two token vectors, broadcasts {@value #MR} weights and issues 12 FMAs into 12 accumulators. No horizontal
 *       sums, no k tail (k is a scalar loop index); row and token tails are zero padding that is never stored.</li>
 * </ul>
 */
final class Gemm {
    private static final VectorSpecies<Float> S = VectorKernels.S;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final int L = VectorKernels.L;
    /** Weight rows per micro-kernel: 12 accumulators + 2 token vectors + 1 broadcast fit the 16 AVX2 registers. */
    static final int MR = 6;
    /** Tokens per micro-kernel: two vectors. */
    static final int TB = 2 * L;
    /** Dequantised floats per prefill panel: 256 KiB, half of a typical L2, the rest for the token block. */
    private static final int PANEL_FLOATS = 64 * 1024;
    /** Up to this many tokens the decode path wins: weight traffic, not arithmetic, is the cost. */
    static final int GEMV_MAX_TOKENS = 4;
    /** Rows a decode step streams together (independent accumulators, one load of x per 4 rows). */
    static final int DECODE_ROWS = 4;
    /** Columns dequantised at once in decode; a multiple of every block size (32, 256) and of L. */
    static final int DECODE_CHUNK = 1024;
    /** Token buffers above this many floats are not kept for reuse. */
    private static final int RETAIN_FLOATS = 4 << 20;

    private Gemm() {}

    static void matmul(Matrix w, float[] x, int T, float[] out) {
        matmul(w, x, 0, T, out, 0, w.rows());
    }

    static void matmul(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        checkArguments(w, x, xOff, T, out, outOff, outStride);
        if (T == 0 || w.rows() == 0) return;
        if (w.cols() == 0) {
            for (int t = 0; t < T; t++) Arrays.fill(out, outOff + t * outStride, outOff + t * outStride + w.rows(), 0f);
        } else if (T <= FUSED_MAX_TOKENS && w.type().format() instanceof RowDot rowDot) {
            gemvFused(w, rowDot, x, xOff, T, out, outOff, outStride);
        } else if (T <= GEMV_MAX_TOKENS) {
            gemv(w, x, xOff, T, out, outOff, outStride);
        } else {
            gemm(w, x, xOff, T, out, outOff, outStride);
        }
    }

    /** {@link Matrix#matmulRowwise}: every row as {@code matmul} computes it with {@code T = 1}. */
    static void matmulRowwise(Matrix w, float[] x, int T, float[] out) {
        int rows = w.rows(), cols = w.cols();
        checkArguments(w, x, 0, T, out, 0, rows);
        if (T <= 1 || w.rows() == 0 || w.cols() == 0) {
            matmul(w, x, 0, T, out, 0, rows);
        } else if (FUSED_MAX_TOKENS >= 1 && w.type().format() instanceof RowDot rowDot) {
            // per element: the dotRow of the T = 1 path. RowDotTiles dequantises each row once for all T tokens;
            // without vectors (dotRow a plain loop), dotRow per row and token
            MemorySegment data = w.data();
            long rowBytes = w.rowBytes();
            if (RowDotTiles.supports(rowDot)) {
                Parallel.forRange(rows, grain(rows, RowDotTiles.R), (lo, hi) ->
                        RowDotTiles.rows(rowDot, data, rowBytes, lo, hi, cols, x, 0, cols, T, out, 0, rows));
            } else {
                Parallel.forRange(rows, grain(rows, 1), (lo, hi) -> {
                    for (int r = lo; r < hi; r++)
                        for (int t = 0; t < T; t++)
                            out[t * rows + r] = rowDot.dotRow(data, r * rowBytes, cols, x, t * cols);
                });
            }
        } else {
            for (int t = 0; t < T; t++) matmul(w, x, t * cols, 1, out, t * rows, rows);
        }
    }

    /** Throws {@link IllegalArgumentException} unless x holds {@code T×cols} floats at xOff and out the T rows. */
    static void checkArguments(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        int rows = w.rows(), cols = w.cols();
        if (T < 0 || xOff < 0 || outOff < 0 || (T > 1 && outStride < rows))
            throw new IllegalArgumentException(w.name() + ": bad matmul arguments T=" + T + " xOff=" + xOff
                    + " outOff=" + outOff + " outStride=" + outStride + " for " + rows + " rows");
        if (T == 0) return;
        if ((long) xOff + (long) T * cols > x.length)
            throw new IllegalArgumentException(w.name() + ": x has " + x.length + " floats, need " + xOff + " + " + T + "×" + cols);
        if ((long) outOff + (long) (T - 1) * outStride + rows > out.length)
            throw new IllegalArgumentException(w.name() + ": out has " + out.length + " floats, need " + outOff + " + "
                    + (T - 1) + "×" + outStride + " + " + rows);
    }

    // ---------------------------------------------------------------- decode, fused (quantised formats)

    /**
     * Up to this many tokens a quantised format dots its stored rows directly ({@link RowDot}) instead of dequantising
     * them to a buffer first. At T = 1 the buffer round trip (a store and a load per weight) makes decode about 1.7×
     * slower (Q8_0/Q4_1 on one AVX2 core: 0.13–0.14 ns per weight fused, 0.23–0.26 buffered); from T = 2
     * re-dequantising each row for every token costs as much as the buffered path, which dequantises once.
     */
    static final int FUSED_MAX_TOKENS = 1;

    /** Rows a fused single-token chunk hands to {@link RowDot#dotRowGroup} at once (the formats' group size). */
    static final int ROW_GROUP = 4;

    /** Rows split across threads; each row is dotted with every token while its bytes are in L1. */
    private static void gemvFused(Matrix w, RowDot rowDot, float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        int rows = w.rows(), cols = w.cols();
        MemorySegment data = w.data();
        long rowBytes = w.rowBytes();
        Parallel.forRange(rows, grain(rows, ROW_GROUP), (lo, hi) -> {
            if (T == 1) {
                rowDot.dotRowGroup(data, lo * rowBytes, rowBytes, hi - lo, cols, x, xOff, out, outOff + lo);
                return;
            }
            for (int r = lo; r < hi; r++)
                for (int t = 0; t < T; t++)
                    out[outOff + t * outStride + r] = rowDot.dotRow(data, r * rowBytes, cols, x, xOff + t * cols);
        });
    }

    /**
     * Units (rows, row groups) per chunk of a parallel product: a few chunks per thread, so a thread slowed by a
     * neighbour on a shared core does not hold the others up, each a multiple of {@code multiple} (a kernel's rows).
     */
    private static int grain(int units, int multiple) {
        int chunks = 4 * Parallel.threads();
        return roundUp(Math.max(1, (units + chunks - 1) / chunks), multiple);
    }

    /**
     * {@link Matrix#matmulEach}: one parallel region for all matrices when every one has a {@link RowDot} format, else
     * one {@link #matmul} per matrix. Either way each output is what {@code matmul} with {@code T = 1} gives, bit for
     * bit (the same {@link RowDot#dotRowGroup} per row chunk).
     */
    static void matmulEach(Matrix[] ws, float[] x, int xOff, float[][] outs) {
        if (ws.length != outs.length)
            throw new IllegalArgumentException("matmulEach: " + ws.length + " matrices, " + outs.length + " outputs");
        boolean fused = FUSED_MAX_TOKENS >= 1;
        int total = 0;
        for (int i = 0; i < ws.length; i++) {
            checkArguments(ws[i], x, xOff, 1, outs[i], 0, ws[i].rows());
            if (ws[i].cols() != ws[0].cols())
                throw new IllegalArgumentException("matmulEach: " + ws[i] + " has " + ws[i].cols() + " columns, "
                        + ws[0] + " has " + ws[0].cols());
            fused &= ws[i].cols() > 0 && ws[i].type().format() instanceof RowDot;
            total += ws[i].rows();
        }
        if (!fused || ws.length == 1) {
            for (int i = 0; i < ws.length; i++) matmul(ws[i], x, xOff, 1, outs[i], 0, ws[i].rows());
            return;
        }
        // chunks of every matrix in one index space: chunk c is rows [lo[c], hi[c]) of matrix which[c]
        int grain = grain(total, ROW_GROUP), count = 0;
        for (Matrix w : ws) count += (w.rows() + grain - 1) / grain;
        int[] which = new int[count], lo = new int[count], hi = new int[count];
        for (int i = 0, c = 0; i < ws.length; i++)
            for (int r = 0; r < ws[i].rows(); r += grain, c++) {
                which[c] = i;
                lo[c] = r;
                hi[c] = Math.min(r + grain, ws[i].rows());
            }
        int cols = ws[0].cols();
        Parallel.forRange(count, 1, (from, to) -> {
            for (int c = from; c < to; c++) {
                Matrix w = ws[which[c]];
                long rowBytes = w.rowBytes();
                ((RowDot) w.type().format()).dotRowGroup(w.data(), lo[c] * rowBytes, rowBytes, hi[c] - lo[c], cols, x,
                        xOff, outs[which[c]], lo[c]);
            }
        });
    }

    // ---------------------------------------------------------------- decode

    private static void gemv(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        int groups = (w.rows() + DECODE_ROWS - 1) / DECODE_ROWS;
        Parallel.forRange(groups, grain(groups, 1), (lo, hi) -> gemvGroups(w, x, xOff, T, out, outOff, outStride, lo, hi));
    }

    private static void gemvGroups(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride,
                                   int groupLo, int groupHi) {
        if (w.type() == DType.F32) {
            gemvGroupsInPlace(w, x, xOff, T, out, outOff, outStride, groupLo, groupHi);
            return;
        }
        int rows = w.rows(), cols = w.cols();
        WeightFormat format = w.type().format();
        MemorySegment data = w.data();
        long rowBytes = w.rowBytes();
        Scratch scratch = Scratch.get();
        float[] buf = scratch.decodeRows;
        float[] acc = scratch.decodeSums;
        for (int g = groupLo; g < groupHi; g++) {
            int r0 = g * DECODE_ROWS, nr = Math.min(DECODE_ROWS, rows - r0);
            Arrays.fill(acc, 0f);
            for (int kc = 0; kc < cols; kc += DECODE_CHUNK) {
                int kn = Math.min(DECODE_CHUNK, cols - kc);
                long chunkOffset = w.type().bytesFor(kc);
                for (int i = 0; i < nr; i++)
                    format.dequantizeRow(data, (r0 + i) * rowBytes + chunkOffset, kn, buf, i * DECODE_CHUNK);
                // a short last group repeats its first row; those sums are not stored
                for (int i = nr; i < DECODE_ROWS; i++) System.arraycopy(buf, 0, buf, i * DECODE_CHUNK, kn);
                int xc = xOff + kc;
                if (T == 1) {
                    dot4x1(buf, x, xc, kn, acc);
                } else {
                    dot4x2(buf, x, xc, xc + cols, kn, acc, 0);
                    if (T > 2) dot4x2(buf, x, xc + 2 * cols, xc + (T - 1) * cols, kn, acc, 2 * DECODE_ROWS);
                }
            }
            for (int t = 0; t < T; t++)
                for (int i = 0; i < nr; i++) out[outOff + t * outStride + r0 + i] = acc[t * DECODE_ROWS + i];
        }
    }

    /**
     * Float32 weights need no conversion: stream the rows straight from the segment (measured about 20 % faster than
     * copying them through the L1 buffer first).
     */
    private static void gemvGroupsInPlace(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride,
                                          int groupLo, int groupHi) {
        int rows = w.rows(), cols = w.cols();
        MemorySegment data = w.data();
        long rowBytes = w.rowBytes();
        float[] acc = Scratch.get().decodeSums;
        for (int g = groupLo; g < groupHi; g++) {
            int r0 = g * DECODE_ROWS, nr = Math.min(DECODE_ROWS, rows - r0);
            // a short last group repeats its last row; those sums are not stored
            long o0 = r0 * rowBytes, o1 = (r0 + Math.min(1, nr - 1)) * rowBytes;
            long o2 = (r0 + Math.min(2, nr - 1)) * rowBytes, o3 = (r0 + nr - 1) * rowBytes;
            Arrays.fill(acc, 0f);
            if (T == 1) {
                dot4x1(data, o0, o1, o2, o3, x, xOff, cols, acc);
            } else {
                dot4x2(data, o0, o1, o2, o3, x, xOff, xOff + cols, cols, acc, 0);
                if (T > 2) dot4x2(data, o0, o1, o2, o3, x, xOff + 2 * cols, xOff + (T - 1) * cols, cols, acc, 2 * DECODE_ROWS);
            }
            for (int t = 0; t < T; t++)
                for (int i = 0; i < nr; i++) out[outOff + t * outStride + r0 + i] = acc[t * DECODE_ROWS + i];
        }
    }

    /** {@code acc[i] += Σ_k row_i[k]·x[xo + k]} for the 4 float32 rows at byte offsets {@code r0..r3} of {@code w}. */
    private static void dot4x1(MemorySegment w, long r0, long r1, long r2, long r3, float[] x, int xo, int n, float[] acc) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector xv = FloatVector.fromArray(S, x, xo + k);
            long kb = 4L * k;
            a0 = FloatVector.fromMemorySegment(S, w, r0 + kb, LE).fma(xv, a0);
            a1 = FloatVector.fromMemorySegment(S, w, r1 + kb, LE).fma(xv, a1);
            a2 = FloatVector.fromMemorySegment(S, w, r2 + kb, LE).fma(xv, a2);
            a3 = FloatVector.fromMemorySegment(S, w, r3 + kb, LE).fma(xv, a3);
        }
        float s0 = VectorKernels.sumLanes(a0), s1 = VectorKernels.sumLanes(a1);
        float s2 = VectorKernels.sumLanes(a2), s3 = VectorKernels.sumLanes(a3);
        for (; k < n; k++) {
            float xv = x[xo + k];
            long kb = 4L * k;
            s0 += w.get(LE_FLOAT, r0 + kb) * xv;
            s1 += w.get(LE_FLOAT, r1 + kb) * xv;
            s2 += w.get(LE_FLOAT, r2 + kb) * xv;
            s3 += w.get(LE_FLOAT, r3 + kb) * xv;
        }
        acc[0] += s0;
        acc[1] += s1;
        acc[2] += s2;
        acc[3] += s3;
    }

    /** Two tokens against 4 float32 rows of a segment; as {@link #dot4x2(float[], float[], int, int, int, float[], int)}. */
    private static void dot4x2(MemorySegment w, long r0, long r1, long r2, long r3, float[] x, int xa, int xb, int n,
                               float[] acc, int at) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector xv = FloatVector.fromArray(S, x, xa + k), yv = FloatVector.fromArray(S, x, xb + k);
            long kb = 4L * k;
            FloatVector w0 = FloatVector.fromMemorySegment(S, w, r0 + kb, LE);
            FloatVector w1 = FloatVector.fromMemorySegment(S, w, r1 + kb, LE);
            FloatVector w2 = FloatVector.fromMemorySegment(S, w, r2 + kb, LE);
            FloatVector w3 = FloatVector.fromMemorySegment(S, w, r3 + kb, LE);
            a0 = w0.fma(xv, a0);
            a1 = w1.fma(xv, a1);
            a2 = w2.fma(xv, a2);
            a3 = w3.fma(xv, a3);
            b0 = w0.fma(yv, b0);
            b1 = w1.fma(yv, b1);
            b2 = w2.fma(yv, b2);
            b3 = w3.fma(yv, b3);
        }
        acc[at] += VectorKernels.sumLanes(a0);
        acc[at + 1] += VectorKernels.sumLanes(a1);
        acc[at + 2] += VectorKernels.sumLanes(a2);
        acc[at + 3] += VectorKernels.sumLanes(a3);
        acc[at + 4] += VectorKernels.sumLanes(b0);
        acc[at + 5] += VectorKernels.sumLanes(b1);
        acc[at + 6] += VectorKernels.sumLanes(b2);
        acc[at + 7] += VectorKernels.sumLanes(b3);
        for (; k < n; k++) {
            float xv = x[xa + k], yv = x[xb + k];
            long kb = 4L * k;
            float v0 = w.get(LE_FLOAT, r0 + kb), v1 = w.get(LE_FLOAT, r1 + kb);
            float v2 = w.get(LE_FLOAT, r2 + kb), v3 = w.get(LE_FLOAT, r3 + kb);
            acc[at] += v0 * xv;
            acc[at + 1] += v1 * xv;
            acc[at + 2] += v2 * xv;
            acc[at + 3] += v3 * xv;
            acc[at + 4] += v0 * yv;
            acc[at + 5] += v1 * yv;
            acc[at + 6] += v2 * yv;
            acc[at + 7] += v3 * yv;
        }
    }

    /** {@code acc[i] += Σ_k buf[i·CHUNK + k]·x[xo + k]} for the 4 rows of the buffer. */
    private static void dot4x1(float[] buf, float[] x, int xo, int n, float[] acc) {
        final int c = DECODE_CHUNK;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector xv = FloatVector.fromArray(S, x, xo + k);
            a0 = FloatVector.fromArray(S, buf, k).fma(xv, a0);
            a1 = FloatVector.fromArray(S, buf, c + k).fma(xv, a1);
            a2 = FloatVector.fromArray(S, buf, 2 * c + k).fma(xv, a2);
            a3 = FloatVector.fromArray(S, buf, 3 * c + k).fma(xv, a3);
        }
        float s0 = VectorKernels.sumLanes(a0), s1 = VectorKernels.sumLanes(a1);
        float s2 = VectorKernels.sumLanes(a2), s3 = VectorKernels.sumLanes(a3);
        for (; k < n; k++) {
            float xv = x[xo + k];
            s0 += buf[k] * xv;
            s1 += buf[c + k] * xv;
            s2 += buf[2 * c + k] * xv;
            s3 += buf[3 * c + k] * xv;
        }
        acc[0] += s0;
        acc[1] += s1;
        acc[2] += s2;
        acc[3] += s3;
    }

    /**
     * Two tokens ({@code x} at {@code xa} and {@code xb}) against the 4 buffered rows; sums go to
     * {@code acc[at + i]} and {@code acc[at + 4 + i]}.
     */
    private static void dot4x2(float[] buf, float[] x, int xa, int xb, int n, float[] acc, int at) {
        final int c = DECODE_CHUNK;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector xv = FloatVector.fromArray(S, x, xa + k), yv = FloatVector.fromArray(S, x, xb + k);
            FloatVector w0 = FloatVector.fromArray(S, buf, k), w1 = FloatVector.fromArray(S, buf, c + k);
            FloatVector w2 = FloatVector.fromArray(S, buf, 2 * c + k), w3 = FloatVector.fromArray(S, buf, 3 * c + k);
            a0 = w0.fma(xv, a0);
            a1 = w1.fma(xv, a1);
            a2 = w2.fma(xv, a2);
            a3 = w3.fma(xv, a3);
            b0 = w0.fma(yv, b0);
            b1 = w1.fma(yv, b1);
            b2 = w2.fma(yv, b2);
            b3 = w3.fma(yv, b3);
        }
        acc[at] += VectorKernels.sumLanes(a0);
        acc[at + 1] += VectorKernels.sumLanes(a1);
        acc[at + 2] += VectorKernels.sumLanes(a2);
        acc[at + 3] += VectorKernels.sumLanes(a3);
        acc[at + 4] += VectorKernels.sumLanes(b0);
        acc[at + 5] += VectorKernels.sumLanes(b1);
        acc[at + 6] += VectorKernels.sumLanes(b2);
        acc[at + 7] += VectorKernels.sumLanes(b3);
        for (; k < n; k++) {
            float xv = x[xa + k], yv = x[xb + k];
            for (int i = 0; i < DECODE_ROWS; i++) {
                acc[at + i] += buf[i * c + k] * xv;
                acc[at + DECODE_ROWS + i] += buf[i * c + k] * yv;
            }
        }
    }

    // ---------------------------------------------------------------- prefill

    private static void gemm(Matrix w, float[] x, int xOff, int T, float[] out, int outOff, int outStride) {
        int rows = w.rows(), K = w.cols(), threads = Parallel.threads();
        int blocks = (T + TB - 1) / TB;
        float[] xt = Scratch.get().tokens(blocks * K * TB);
        Parallel.forRange(blocks, 1, (lo, hi) -> {
            for (int b = lo; b < hi; b++) packTokens(x, xOff, T, K, b, xt);
        });

        // panels: at most PANEL_FLOATS each, a multiple of MR rows, their number a multiple of the thread count
        int maxPanelRows = Math.max(MR, PANEL_FLOATS / K / MR * MR);
        int panels = (rows + maxPanelRows - 1) / maxPanelRows;
        panels = (panels + threads - 1) / threads * threads;
        int panelRows = roundUp((rows + panels - 1) / panels, MR);
        int panelCount = (rows + panelRows - 1) / panelRows;
        // few panels (small matrices): also split the tokens so every thread has work
        int splits = Math.min(blocks, Math.max(1, (2 * threads + panelCount - 1) / panelCount));
        int blocksPerSplit = (blocks + splits - 1) / splits;
        int splitCount = (blocks + blocksPerSplit - 1) / blocksPerSplit;
        Parallel.forRange(panelCount * splitCount, 1, (lo, hi) -> {
            for (int item = lo; item < hi; item++) {
                int p = item / splitCount, s = item % splitCount;
                int r0 = p * panelRows, nr = Math.min(panelRows, rows - r0);
                int b0 = s * blocksPerSplit, b1 = Math.min(blocks, b0 + blocksPerSplit);
                gemmPanel(w, r0, nr, xt, T, b0, b1, out, outOff, outStride);
            }
        });
    }

    /** Token block {@code b}: {@code xt[(b·K + k)·TB + j] = x[t = b·TB + j, k]}, zero for {@code t ≥ T}. */
    private static void packTokens(float[] x, int xOff, int T, int K, int b, float[] xt) {
        int base = b * K * TB, t0 = b * TB, tn = Math.min(TB, T - t0);
        for (int j = 0; j < tn; j++) {
            int src = xOff + (t0 + j) * K;
            for (int k = 0; k < K; k++) xt[base + k * TB + j] = x[src + k];
        }
        for (int j = tn; j < TB; j++)
            for (int k = 0; k < K; k++) xt[base + k * TB + j] = 0f;
    }

    private static void gemmPanel(Matrix w, int r0, int nr, float[] xt, int T, int b0, int b1,
                                  float[] out, int outOff, int outStride) {
        int K = w.cols();
        int paddedRows = roundUp(nr, MR);
        Scratch scratch = Scratch.get();
        float[] wp = scratch.panel(paddedRows * K);
        WeightFormat format = w.type().format();
        for (int i = 0; i < nr; i++) format.dequantizeRow(w.data(), (r0 + i) * w.rowBytes(), K, wp, i * K);
        Arrays.fill(wp, nr * K, paddedRows * K, 0f);
        float[] tile = scratch.tile;
        for (int b = b0; b < b1; b++) {
            int t0 = b * TB, tn = Math.min(TB, T - t0), xb = b * K * TB;
            for (int m = 0; m < nr; m += MR) {
                if (tn > L) kernel6x2(wp, m * K, K, xt, xb, tile);
                else kernel6x1(wp, m * K, K, xt, xb, tile);
                int mr = Math.min(MR, nr - m);
                for (int j = 0; j < tn; j++) {
                    int o = outOff + (t0 + j) * outStride + r0 + m;
                    for (int i = 0; i < mr; i++) out[o + i] = tile[i * TB + j];
                }
            }
        }
    }

    /** {@code tile[i·TB + j] = Σ_k wp[w0 + i·K + k]·xt[x0 + k·TB + j]} for 6 rows i and 2L tokens j. */
    private static void kernel6x2(float[] wp, int w0, int K, float[] xt, int x0, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        int w1 = w0 + K, w2 = w1 + K, w3 = w2 + K, w4 = w3 + K, w5 = w4 + K;
        for (int k = 0; k < K; k++) {
            int xi = x0 + k * TB;
            FloatVector xa = FloatVector.fromArray(S, xt, xi), xb = FloatVector.fromArray(S, xt, xi + L);
            FloatVector v = FloatVector.broadcast(S, wp[w0 + k]);
            c00 = v.fma(xa, c00);
            c01 = v.fma(xb, c01);
            v = FloatVector.broadcast(S, wp[w1 + k]);
            c10 = v.fma(xa, c10);
            c11 = v.fma(xb, c11);
            v = FloatVector.broadcast(S, wp[w2 + k]);
            c20 = v.fma(xa, c20);
            c21 = v.fma(xb, c21);
            v = FloatVector.broadcast(S, wp[w3 + k]);
            c30 = v.fma(xa, c30);
            c31 = v.fma(xb, c31);
            v = FloatVector.broadcast(S, wp[w4 + k]);
            c40 = v.fma(xa, c40);
            c41 = v.fma(xb, c41);
            v = FloatVector.broadcast(S, wp[w5 + k]);
            c50 = v.fma(xa, c50);
            c51 = v.fma(xb, c51);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, L);
        c10.intoArray(tile, TB);
        c11.intoArray(tile, TB + L);
        c20.intoArray(tile, 2 * TB);
        c21.intoArray(tile, 2 * TB + L);
        c30.intoArray(tile, 3 * TB);
        c31.intoArray(tile, 3 * TB + L);
        c40.intoArray(tile, 4 * TB);
        c41.intoArray(tile, 4 * TB + L);
        c50.intoArray(tile, 5 * TB);
        c51.intoArray(tile, 5 * TB + L);
    }

    /** As {@link #kernel6x2} for the first L tokens of the block only (a short last block). */
    private static void kernel6x1(float[] wp, int w0, int K, float[] xt, int x0, float[] tile) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        int w1 = w0 + K, w2 = w1 + K, w3 = w2 + K, w4 = w3 + K, w5 = w4 + K;
        for (int k = 0; k < K; k++) {
            FloatVector xa = FloatVector.fromArray(S, xt, x0 + k * TB);
            c0 = FloatVector.broadcast(S, wp[w0 + k]).fma(xa, c0);
            c1 = FloatVector.broadcast(S, wp[w1 + k]).fma(xa, c1);
            c2 = FloatVector.broadcast(S, wp[w2 + k]).fma(xa, c2);
            c3 = FloatVector.broadcast(S, wp[w3 + k]).fma(xa, c3);
            c4 = FloatVector.broadcast(S, wp[w4 + k]).fma(xa, c4);
            c5 = FloatVector.broadcast(S, wp[w5 + k]).fma(xa, c5);
        }
        c0.intoArray(tile, 0);
        c1.intoArray(tile, TB);
        c2.intoArray(tile, 2 * TB);
        c3.intoArray(tile, 3 * TB);
        c4.intoArray(tile, 4 * TB);
        c5.intoArray(tile, 5 * TB);
    }

    private static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }

    /** Per-thread buffers, grown on demand and reused across calls. */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);
        final float[] decodeRows = new float[DECODE_ROWS * DECODE_CHUNK];
        final float[] decodeSums = new float[GEMV_MAX_TOKENS * DECODE_ROWS];
        final float[] tile = new float[MR * TB];
        private float[] panel = new float[0];
        private float[] tokens = new float[0];

        static Scratch get() {
            return LOCAL.get();
        }

        float[] panel(int n) {
            if (panel.length < n) panel = new float[n];
            return panel;
        }

        /** The caller's transposed tokens; read by all workers of one call, so a fresh array when too big to keep. */
        float[] tokens(int n) {
            if (n > RETAIN_FLOATS) return new float[n];
            if (tokens.length < n) tokens = new float[n];
            return tokens;
        }
    }
}
