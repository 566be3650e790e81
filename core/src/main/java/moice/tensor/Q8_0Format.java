package moice.tensor;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.B2F;
import static moice.tensor.QuantBlocks.B8;
import static moice.tensor.QuantBlocks.BW;
import static moice.tensor.QuantBlocks.F8;
import static moice.tensor.QuantBlocks.FW;
import static moice.tensor.QuantBlocks.LE;
import static moice.tensor.QuantBlocks.half;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

/**
 * ggml's Q8_0: blocks of 32 values in 34 bytes, an f16 scale {@code d} then 32 int8 {@code q}; value {@code q·d}
 * (float32 product of the int and the widened scale). Also the quantiser that writes it.
 */
public final class Q8_0Format implements WeightFormat, RowDot {
    static final Q8_0Format INSTANCE = new Q8_0Format();
    private static final int BLOCK = 32, BYTES = 34;

    private Q8_0Format() {}

    @Override
    public DType type() { return DType.Q8_0; }

    @Override
    public void dequantizeRow(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q8_0, cols);
        if (!QuantBlocks.VECTOR) {
            dequantizeRowScalar(data, offset, cols, dst, dstOff);
            return;
        }
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        MemorySegment row = data.asSlice(offset, (long) BYTES * (cols / BLOCK));
        if (QuantBlocks.WIDE) { // 16 lanes: the same operations per value, half the instructions (batched decode)
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = (long) BYTES * b;
                float d = half(row, block);
                int out = dstOff + BLOCK * b;
                ((FloatVector) ByteVector.fromMemorySegment(BW, row, block + 2, LE).convertShape(B2F, FW, 0)).mul(d)
                        .intoArray(dst, out);
                ((FloatVector) ByteVector.fromMemorySegment(BW, row, block + 18, LE).convertShape(B2F, FW, 0)).mul(d)
                        .intoArray(dst, out + 16);
            }
            return;
        }
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = (long) BYTES * b;
            float d = half(row, block);
            int out = dstOff + BLOCK * b;
            for (int j = 0; j < BLOCK; j += 8) {
                var q = (FloatVector) ByteVector.fromMemorySegment(B8, row, block + 2 + j, LE).convertShape(B2F, F8, 0);
                q.mul(d).intoArray(dst, out + j);
            }
        }
    }

    @Override
    public void dequantizeRowScalar(MemorySegment data, long offset, int cols, float[] dst, int dstOff) {
        QuantBlocks.checkCols(DType.Q8_0, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = offset + (long) BYTES * b;
            float d = QuantBlocks.halfScalar(data, block);
            for (int j = 0; j < BLOCK; j++) dst[dstOff + BLOCK * b + j] = QuantBlocks.s8(data, block + 2 + j) * d;
        }
    }

    /** {@link #dotRow}'s grouping (see there); none on the plain-loop path. */
    @Override
    public Sums sums() {
        return QuantBlocks.VECTOR ? QuantBlocks.WIDE ? Sums.HALVES_OF_32 : Sums.QUARTERS_OF_32 : null;
    }

    @Override
    public float dotRow(MemorySegment data, long offset, int cols, float[] x, int xOff) {
        QuantBlocks.checkCols(DType.Q8_0, cols);
        if (!QuantBlocks.VECTOR) return QuantBlocks.dotByBlocks(this, data, offset, cols, x, xOff);
        // addressed from 0 so that C2 hoists the bounds checks (see QuantBlocks)
        return dot(data.asSlice(offset, (long) BYTES * (cols / BLOCK)), 0, cols, x, xOff);
    }

    /**
     * Row by row, each exactly as {@link #dotRow}, but with one slice for all {@code n} rows: a slice per row was not
     * always scalar-replaced (the LM head made ~50 k of them per token). A kernel dotting four rows at once measured
     * 20 % faster on a cache-resident [1536 x 576] but 2.4× slower on matrices streamed from memory (the LM head, 30 MB:
     * four interleaved streams of 612-byte rows defeat the prefetch), which is where Q8_0 decode spends its time
     * (RowDotBench, docs/benchmarks.md).
     */
    @Override
    public void dotRowGroup(MemorySegment data, long offset, long rowBytes, int n, int cols, float[] x, int xOff,
                            float[] out, int outOff) {
        QuantBlocks.checkCols(DType.Q8_0, cols);
        if (!QuantBlocks.VECTOR || rowBytes != (long) BYTES * (cols / BLOCK)) {
            RowDot.super.dotRowGroup(data, offset, rowBytes, n, cols, x, xOff, out, outOff);
            return;
        }
        MemorySegment rows = data.asSlice(offset, n * rowBytes);
        for (int i = 0; i < n; i++) out[outOff + i] = dot(rows, i * rowBytes, cols, x, xOff);
    }

    /**
     * The row at {@code base} of {@code rows}. 8-lane vectors: four accumulators of 8 weights per block; 16-lane
     * ({@link QuantBlocks#WIDE}): two of 16.
     */
    private static float dot(MemorySegment rows, long base, int cols, float[] x, int xOff) {
        if (QuantBlocks.WIDE) {
            FloatVector lo = FloatVector.zero(FW), hi = lo;
            for (int b = 0; b < cols / BLOCK; b++) {
                long block = base + (long) BYTES * b;
                float d = half(rows, block);
                int xb = xOff + BLOCK * b;
                var q0 = (FloatVector) ByteVector.fromMemorySegment(BW, rows, block + 2, LE).convertShape(B2F, FW, 0);
                var q1 = (FloatVector) ByteVector.fromMemorySegment(BW, rows, block + 18, LE).convertShape(B2F, FW, 0);
                lo = q0.mul(d).fma(FloatVector.fromArray(FW, x, xb), lo);
                hi = q1.mul(d).fma(FloatVector.fromArray(FW, x, xb + 16), hi);
            }
            return VectorKernels.sumLanes(lo.add(hi));
        }
        FloatVector a0 = FloatVector.zero(F8), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < cols / BLOCK; b++) {
            long block = base + (long) BYTES * b;
            float d = half(rows, block);
            int xb = xOff + BLOCK * b;
            var q0 = (FloatVector) ByteVector.fromMemorySegment(B8, rows, block + 2, LE).convertShape(B2F, F8, 0);
            var q1 = (FloatVector) ByteVector.fromMemorySegment(B8, rows, block + 10, LE).convertShape(B2F, F8, 0);
            var q2 = (FloatVector) ByteVector.fromMemorySegment(B8, rows, block + 18, LE).convertShape(B2F, F8, 0);
            var q3 = (FloatVector) ByteVector.fromMemorySegment(B8, rows, block + 26, LE).convertShape(B2F, F8, 0);
            a0 = q0.mul(d).fma(FloatVector.fromArray(F8, x, xb), a0);
            a1 = q1.mul(d).fma(FloatVector.fromArray(F8, x, xb + 8), a1);
            a2 = q2.mul(d).fma(FloatVector.fromArray(F8, x, xb + 16), a2);
            a3 = q3.mul(d).fma(FloatVector.fromArray(F8, x, xb + 24), a3);
        }
        return VectorKernels.sumLanes256(a0.add(a1).add(a2.add(a3)));
    }

    /**
     * Quantises {@code src[off .. off+cols)} to Q8_0 blocks at {@code dst[dstOff ..]} ({@code cols/32·34} bytes) as
     * ggml's {@code quantize_row_q8_0_ref} does, in float32: {@code d = amax/127}, {@code id = d ≠ 0 ? 1/d : 0},
     * {@code q = roundf(x·id)} (halves away from zero), and {@code d} stored as the nearest f16 (ties to even).
     *
     * @throws IllegalArgumentException if {@code cols} is not a multiple of 32 or a value is NaN or infinite
     */
    public static void quantizeRow(float[] src, int off, int cols, MemorySegment dst, long dstOff) {
        QuantBlocks.checkCols(DType.Q8_0, cols);
        for (int b = 0; b < cols / BLOCK; b++) {
            int in = off + BLOCK * b;
            float amax = 0;
            for (int j = 0; j < BLOCK; j++) {
                float v = src[in + j];
                if (!Float.isFinite(v)) throw new IllegalArgumentException("Q8_0: value " + v + " at " + (in + j) + " is not finite");
                amax = Math.max(amax, Math.abs(v));
            }
            float d = amax / 127;
            float id = d != 0 ? 1f / d : 0f;
            long block = dstOff + (long) BYTES * b;
            dst.set(QuantBlocks.LE_SHORT, block, Float.floatToFloat16(d));
            for (int j = 0; j < BLOCK; j++) dst.set(QuantBlocks.BYTE, block + 2 + j, (byte) roundHalfAwayFromZero(src[in + j] * id));
        }
    }

    /** C's {@code roundf}: nearest integer, halves away from zero (Java's {@link Math#round} breaks ties upward). */
    static int roundHalfAwayFromZero(float v) {
        float a = Math.abs(v);
        float floored = (float) Math.floor(a);
        float r = floored + (float) Math.floor(2 * (a - floored));
        return (int) (v < 0 ? -r : r);
    }
}
