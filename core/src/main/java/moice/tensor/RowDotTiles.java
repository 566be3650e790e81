package moice.tensor;

import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.FW;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * Several stored rows dotted with several vectors (batched decode: every row of a projection with the B sequences'
 * activations), each result bit for bit what {@link RowDot#dotRow} returns for that row and vector alone.
 *
 * <p>How: {@value #R} rows at a time are dequantised once into a small float buffer ({@link WeightFormat#dequantizeRow},
 * whose values are exactly the weights {@code dotRow} forms in registers, by the {@link RowDot} contract), and then a
 * register tile of those rows × a few vectors is dotted from the buffer, each (row, vector) sum accumulated in
 * exactly the lanes, order and fused multiply-adds {@code dotRow} uses ({@link RowDot.Sums}) and folded in the same
 * order at the end. {@code dotRow} dequantises a block once per vector; here it is once per row for any number of
 * vectors, and the inner loop is loads and FMAs only.
 *
 * <p>On 512-bit vectors every grouping runs on 16-lane registers: an 8-lane accumulator pair of {@code dotRow} is one
 * 16-lane register whose halves are the two chains (a lanewise FMA keeps the lanes independent), and the final
 * pairwise additions are done by one fold of 8 lanes. On 256-bit vectors the 8-lane groupings run as {@code dotRow}
 * writes them. Without 256-bit vectors ({@code dotRow} is then a plain loop) callers use {@code dotRow} per row and vector.
 */
final class RowDotTiles {
    /** Rows dequantised together: the register tile's height. */
    static final int R = 4;

    /** Per thread: R dequantised rows (grown to the widest matrix seen; a few KiB to tens of KiB). */
    private static final ThreadLocal<float[]> BUFFER = ThreadLocal.withInitial(() -> new float[R * 1024]);

    private RowDotTiles() {}

    /** Whether {@link #rows} can reproduce {@code format}'s {@code dotRow} on this CPU. */
    static boolean supports(RowDot format) {
        RowDot.Sums sums = format.sums();
        if (sums == null || !QuantBlocks.VECTOR) return false;
        return sums != RowDot.Sums.HALVES_OF_32 || QuantBlocks.WIDE;
    }

    /**
     * {@code out[outOff + t·outStride + r] = dotRow(row r, x[xOff + t·xStride ..])} for rows {@code r} in
     * {@code [lo, hi)} of the matrix stored at {@code data} ({@code rowBytes} per row, {@code cols} values) and
     * {@code t < T}; {@link #supports} must hold.
     */
    static void rows(RowDot format, MemorySegment data, long rowBytes, int lo, int hi, int cols, float[] x, int xOff,
                     int xStride, int T, float[] out, int outOff, int outStride) {
        if (T <= 0 || hi <= lo) return;
        WeightFormat f = (WeightFormat) format;
        RowDot.Sums sums = format.sums();
        float[] w = BUFFER.get();
        if (w.length < R * cols) BUFFER.set(w = new float[R * cols]);
        for (int r = lo; r < hi; r += R) {
            int n = Math.min(R, hi - r);
            for (int i = 0; i < n; i++) f.dequantizeRow(data, (r + i) * rowBytes, cols, w, i * cols);
            // a short tile repeats its last row: the same value is computed and stored twice (no branch in the kernel)
            int w1 = Math.min(1, n - 1) * cols, w2 = Math.min(2, n - 1) * cols, w3 = Math.min(3, n - 1) * cols;
            int o0 = outOff + r, o1 = o0 + Math.min(1, n - 1), o2 = o0 + Math.min(2, n - 1), o3 = o0 + Math.min(3, n - 1);
            if (QuantBlocks.WIDE) {
                if (sums == RowDot.Sums.HALVES_OF_16) {
                    wide16(w, w1, w2, w3, cols, x, xOff, xStride, T, out, o0, o1, o2, o3, outStride);
                } else {
                    wide32(sums == RowDot.Sums.QUARTERS_OF_32, w, w1, w2, w3, cols, x, xOff, xStride, T, out,
                            o0, o1, o2, o3, outStride);
                }
            } else if (sums == RowDot.Sums.HALVES_OF_16) {
                narrow16(w, 0, w1, cols, x, xOff, xStride, T, out, o0, o1, outStride);
                narrow16(w, w2, w3, cols, x, xOff, xStride, T, out, o2, o3, outStride);
            } else {
                narrow32(w, 0, w1, cols, x, xOff, xStride, T, out, o0, o1, outStride);
                narrow32(w, w2, w3, cols, x, xOff, xStride, T, out, o2, o3, outStride);
            }
        }
    }

    /**
     * 16-lane registers, 32 values per step: per (row, vector) {@code lo} takes values 0–15 of each group of 32 and
     * {@code hi} 16–31. {@link RowDot.Sums#HALVES_OF_32}: that is {@code dotRow}'s own layout, summed as
     * {@code sumLanes(lo + hi)}. {@link RowDot.Sums#QUARTERS_OF_32} ({@code quarters}): the halves of {@code lo} are
     * {@code dotRow}'s {@code a0}, {@code a1} and of {@code hi} its {@code a2}, {@code a3}; folding 8 lanes gives
     * {@code a0 + a1} and {@code a2 + a3}, then {@code sumLanes256}'s folds. Four rows × two vectors: 16 accumulators.
     */
    private static void wide32(boolean quarters, float[] w, int w1, int w2, int w3, int cols, float[] x, int xOff,
                               int xStride, int T, float[] out, int o0, int o1, int o2, int o3, int outStride) {
        for (int t = 0; t < T; t += 2) {
            int xa = xOff + t * xStride, xb = xOff + Math.min(t + 1, T - 1) * xStride;
            FloatVector l0a = FloatVector.zero(FW), h0a = l0a, l1a = l0a, h1a = l0a, l2a = l0a, h2a = l0a, l3a = l0a,
                    h3a = l0a, l0b = l0a, h0b = l0a, l1b = l0a, h1b = l0a, l2b = l0a, h2b = l0a, l3b = l0a, h3b = l0a;
            for (int k = 0; k < cols; k += 32) {
                var xla = FloatVector.fromArray(FW, x, xa + k);
                var xha = FloatVector.fromArray(FW, x, xa + k + 16);
                var xlb = FloatVector.fromArray(FW, x, xb + k);
                var xhb = FloatVector.fromArray(FW, x, xb + k + 16);
                var wl = FloatVector.fromArray(FW, w, k);
                var wh = FloatVector.fromArray(FW, w, k + 16);
                l0a = wl.fma(xla, l0a);
                h0a = wh.fma(xha, h0a);
                l0b = wl.fma(xlb, l0b);
                h0b = wh.fma(xhb, h0b);
                wl = FloatVector.fromArray(FW, w, w1 + k);
                wh = FloatVector.fromArray(FW, w, w1 + k + 16);
                l1a = wl.fma(xla, l1a);
                h1a = wh.fma(xha, h1a);
                l1b = wl.fma(xlb, l1b);
                h1b = wh.fma(xhb, h1b);
                wl = FloatVector.fromArray(FW, w, w2 + k);
                wh = FloatVector.fromArray(FW, w, w2 + k + 16);
                l2a = wl.fma(xla, l2a);
                h2a = wh.fma(xha, h2a);
                l2b = wl.fma(xlb, l2b);
                h2b = wh.fma(xhb, h2b);
                wl = FloatVector.fromArray(FW, w, w3 + k);
                wh = FloatVector.fromArray(FW, w, w3 + k + 16);
                l3a = wl.fma(xla, l3a);
                h3a = wh.fma(xha, h3a);
                l3b = wl.fma(xlb, l3b);
                h3b = wh.fma(xhb, h3b);
            }
            int ta = t * outStride, tb = Math.min(t + 1, T - 1) * outStride;
            // the folds written out (as in Q4_1Format.dotRowGroup): a helper left out of line boxes its vector
            if (quarters) {
                FloatVector s;
                s = l0a.add(l0a.rearrange(VectorKernels.FOLD_8)).add(h0a.add(h0a.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o0 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l1a.add(l1a.rearrange(VectorKernels.FOLD_8)).add(h1a.add(h1a.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o1 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l2a.add(l2a.rearrange(VectorKernels.FOLD_8)).add(h2a.add(h2a.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o2 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l3a.add(l3a.rearrange(VectorKernels.FOLD_8)).add(h3a.add(h3a.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o3 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l0b.add(l0b.rearrange(VectorKernels.FOLD_8)).add(h0b.add(h0b.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o0 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l1b.add(l1b.rearrange(VectorKernels.FOLD_8)).add(h1b.add(h1b.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o1 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l2b.add(l2b.rearrange(VectorKernels.FOLD_8)).add(h2b.add(h2b.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o2 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l3b.add(l3b.rearrange(VectorKernels.FOLD_8)).add(h3b.add(h3b.rearrange(VectorKernels.FOLD_8)));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o3 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            } else {
                FloatVector s;
                s = l0a.add(h0a);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o0 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l1a.add(h1a);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o1 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l2a.add(h2a);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o2 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l3a.add(h3a);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o3 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l0b.add(h0b);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o0 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l1b.add(h1b);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o1 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l2b.add(h2b);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o2 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
                s = l3b.add(h3b);
                s = s.add(s.rearrange(VectorKernels.FOLD_8));
                s = s.add(s.rearrange(VectorKernels.FOLD_4));
                s = s.add(s.rearrange(VectorKernels.FOLD_2));
                out[o3 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            }
        }
    }

    /**
     * 16-lane registers, 16 values per step, for {@link RowDot.Sums#HALVES_OF_16}: one register per (row, vector) whose
     * low half is {@code dotRow}'s {@code a0} and high half its {@code a1}; one fold of 8 lanes gives {@code a0 + a1},
     * then {@code sumLanes256}'s folds. Four rows × four vectors: 16 accumulators.
     */
    private static void wide16(float[] w, int w1, int w2, int w3, int cols, float[] x, int xOff, int xStride, int T,
                               float[] out, int o0, int o1, int o2, int o3, int outStride) {
        for (int t = 0; t < T; t += 4) {
            int ta = t * outStride, tb = Math.min(t + 1, T - 1) * outStride, tc = Math.min(t + 2, T - 1) * outStride,
                    td = Math.min(t + 3, T - 1) * outStride;
            int xa = xOff + t * xStride, xb = xOff + Math.min(t + 1, T - 1) * xStride,
                    xc = xOff + Math.min(t + 2, T - 1) * xStride, xd = xOff + Math.min(t + 3, T - 1) * xStride;
            FloatVector a0 = FloatVector.zero(FW), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0,
                    c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
            for (int k = 0; k < cols; k += 16) {
                var va = FloatVector.fromArray(FW, x, xa + k);
                var vb = FloatVector.fromArray(FW, x, xb + k);
                var vc = FloatVector.fromArray(FW, x, xc + k);
                var vd = FloatVector.fromArray(FW, x, xd + k);
                var ww = FloatVector.fromArray(FW, w, k);
                a0 = ww.fma(va, a0);
                b0 = ww.fma(vb, b0);
                c0 = ww.fma(vc, c0);
                d0 = ww.fma(vd, d0);
                ww = FloatVector.fromArray(FW, w, w1 + k);
                a1 = ww.fma(va, a1);
                b1 = ww.fma(vb, b1);
                c1 = ww.fma(vc, c1);
                d1 = ww.fma(vd, d1);
                ww = FloatVector.fromArray(FW, w, w2 + k);
                a2 = ww.fma(va, a2);
                b2 = ww.fma(vb, b2);
                c2 = ww.fma(vc, c2);
                d2 = ww.fma(vd, d2);
                ww = FloatVector.fromArray(FW, w, w3 + k);
                a3 = ww.fma(va, a3);
                b3 = ww.fma(vb, b3);
                c3 = ww.fma(vc, c3);
                d3 = ww.fma(vd, d3);
            }
            // the folds written out (a helper left out of line boxed its vector: JMH -prof gc, Q4_K)
            FloatVector s = a0.add(a0.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o0 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = a1.add(a1.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o1 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = a2.add(a2.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o2 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = a3.add(a3.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o3 + ta] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = b0.add(b0.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o0 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = b1.add(b1.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o1 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = b2.add(b2.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o2 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = b3.add(b3.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o3 + tb] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = c0.add(c0.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o0 + tc] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = c1.add(c1.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o1 + tc] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = c2.add(c2.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o2 + tc] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = c3.add(c3.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o3 + tc] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = d0.add(d0.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o0 + td] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = d1.add(d1.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o1 + td] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = d2.add(d2.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o2 + td] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
            s = d3.add(d3.rearrange(VectorKernels.FOLD_8));
            s = s.add(s.rearrange(VectorKernels.FOLD_4));
            s = s.add(s.rearrange(VectorKernels.FOLD_2));
            out[o3 + td] = s.add(s.rearrange(VectorKernels.FOLD_1)).lane(0);
        }
    }


    /**
     * 8-lane registers, {@link RowDot.Sums#QUARTERS_OF_32}: {@code dotRow}'s four accumulators per (row, vector), two
     * rows × two vectors (16 accumulators).
     */
    private static void narrow32(float[] w, int wa, int wb, int cols, float[] x, int xOff, int xStride, int T,
                                 float[] out, int oa, int ob, int outStride) {
        for (int t = 0; t < T; t += 2) {
            int xp = xOff + t * xStride, xq = xOff + Math.min(t + 1, T - 1) * xStride;
            FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
            for (int k = 0; k < cols; k += 32) {
                var p0 = FloatVector.fromArray(F8, x, xp + k);
                var p1 = FloatVector.fromArray(F8, x, xp + k + 8);
                var p2 = FloatVector.fromArray(F8, x, xp + k + 16);
                var p3 = FloatVector.fromArray(F8, x, xp + k + 24);
                var q0 = FloatVector.fromArray(F8, x, xq + k);
                var q1 = FloatVector.fromArray(F8, x, xq + k + 8);
                var q2 = FloatVector.fromArray(F8, x, xq + k + 16);
                var q3 = FloatVector.fromArray(F8, x, xq + k + 24);
                var v = FloatVector.fromArray(F8, w, wa + k);
                a0 = v.fma(p0, a0);
                c0 = v.fma(q0, c0);
                v = FloatVector.fromArray(F8, w, wa + k + 8);
                a1 = v.fma(p1, a1);
                c1 = v.fma(q1, c1);
                v = FloatVector.fromArray(F8, w, wa + k + 16);
                a2 = v.fma(p2, a2);
                c2 = v.fma(q2, c2);
                v = FloatVector.fromArray(F8, w, wa + k + 24);
                a3 = v.fma(p3, a3);
                c3 = v.fma(q3, c3);
                v = FloatVector.fromArray(F8, w, wb + k);
                b0 = v.fma(p0, b0);
                d0 = v.fma(q0, d0);
                v = FloatVector.fromArray(F8, w, wb + k + 8);
                b1 = v.fma(p1, b1);
                d1 = v.fma(q1, d1);
                v = FloatVector.fromArray(F8, w, wb + k + 16);
                b2 = v.fma(p2, b2);
                d2 = v.fma(q2, d2);
                v = FloatVector.fromArray(F8, w, wb + k + 24);
                b3 = v.fma(p3, b3);
                d3 = v.fma(q3, d3);
            }
            int tp = t * outStride, tq = Math.min(t + 1, T - 1) * outStride;
            FloatVector s = a0.add(a1).add(a2.add(a3));
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[oa + tp] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = b0.add(b1).add(b2.add(b3));
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[ob + tp] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = c0.add(c1).add(c2.add(c3));
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[oa + tq] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = d0.add(d1).add(d2.add(d3));
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[ob + tq] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
        }
    }

    /**
     * 8-lane registers, {@link RowDot.Sums#HALVES_OF_16}: {@code dotRow}'s two accumulators per (row, vector), two
     * rows × four vectors (16 accumulators).
     */
    private static void narrow16(float[] w, int wa, int wb, int cols, float[] x, int xOff, int xStride, int T,
                                 float[] out, int oa, int ob, int outStride) {
        for (int t = 0; t < T; t += 4) {
            int x0 = xOff + t * xStride, x1 = xOff + Math.min(t + 1, T - 1) * xStride,
                    x2 = xOff + Math.min(t + 2, T - 1) * xStride, x3 = xOff + Math.min(t + 3, T - 1) * xStride;
            FloatVector a0 = FloatVector.zero(F8), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
            FloatVector e0 = a0, e1 = a0, f0 = a0, f1 = a0, g0 = a0, g1 = a0, h0 = a0, h1 = a0;
            for (int k = 0; k < cols; k += 16) {
                var u = FloatVector.fromArray(F8, w, wa + k);
                var v = FloatVector.fromArray(F8, w, wa + k + 8);
                var y = FloatVector.fromArray(F8, w, wb + k);
                var z = FloatVector.fromArray(F8, w, wb + k + 8);
                var s = FloatVector.fromArray(F8, x, x0 + k);
                a0 = u.fma(s, a0);
                e0 = y.fma(s, e0);
                s = FloatVector.fromArray(F8, x, x0 + k + 8);
                a1 = v.fma(s, a1);
                e1 = z.fma(s, e1);
                s = FloatVector.fromArray(F8, x, x1 + k);
                b0 = u.fma(s, b0);
                f0 = y.fma(s, f0);
                s = FloatVector.fromArray(F8, x, x1 + k + 8);
                b1 = v.fma(s, b1);
                f1 = z.fma(s, f1);
                s = FloatVector.fromArray(F8, x, x2 + k);
                c0 = u.fma(s, c0);
                g0 = y.fma(s, g0);
                s = FloatVector.fromArray(F8, x, x2 + k + 8);
                c1 = v.fma(s, c1);
                g1 = z.fma(s, g1);
                s = FloatVector.fromArray(F8, x, x3 + k);
                d0 = u.fma(s, d0);
                h0 = y.fma(s, h0);
                s = FloatVector.fromArray(F8, x, x3 + k + 8);
                d1 = v.fma(s, d1);
                h1 = z.fma(s, h1);
            }
            int t0 = t * outStride, t1 = Math.min(t + 1, T - 1) * outStride, t2 = Math.min(t + 2, T - 1) * outStride,
                    t3 = Math.min(t + 3, T - 1) * outStride;
            FloatVector s = a0.add(a1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[oa + t0] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = b0.add(b1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[oa + t1] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = c0.add(c1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[oa + t2] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = d0.add(d1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[oa + t3] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = e0.add(e1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[ob + t0] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = f0.add(f1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[ob + t1] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = g0.add(g1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[ob + t2] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
            s = h0.add(h1);
            s = s.add(s.rearrange(VectorKernels.FOLD256_4));
            s = s.add(s.rearrange(VectorKernels.FOLD256_2));
            out[ob + t3] = s.add(s.rearrange(VectorKernels.FOLD256_1)).lane(0);
        }
    }
}
