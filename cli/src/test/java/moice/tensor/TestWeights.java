package moice.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** Builds weight matrices in a stored format the way a memory-mapped file presents them: little-endian, unaligned. */
final class TestWeights {
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The formats with one value per block, which {@link #random} builds (quantised ones: {@link QuantTestData}). */
    static final DType[] PLAIN = {DType.F32, DType.F16, DType.BF16};

    private TestWeights() {}

    /** Random {@code [rows, cols]} matrix of {@code type}, placed at an odd byte offset inside a larger segment. */
    static Matrix random(DType type, int rows, int cols, SplittableRandom rnd, Arena arena) {
        long bytes = rows * type.bytesFor(cols);
        MemorySegment file = arena.allocate(bytes + 16, 8);
        MemorySegment data = file.asSlice(3, bytes);
        for (long i = 0; i < (long) rows * cols; i++) {
            float v = (float) rnd.nextGaussian();
            switch (type) {
                case F32 -> data.set(LE_FLOAT, 4 * i, v);
                case F16 -> data.set(LE_SHORT, 2 * i, Float.floatToFloat16(v));
                case BF16 -> data.set(LE_SHORT, 2 * i, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        return new Matrix("test." + type, type, rows, cols, data);
    }

    /** The matrix as floats through the scalar (reference) dequantisation. */
    static float[] reference(Matrix w) {
        float[] a = new float[w.rows() * w.cols()];
        for (int r = 0; r < w.rows(); r++)
            w.type().format().dequantizeRowScalar(w.data(), r * w.rowBytes(), w.cols(), a, r * w.cols());
        return a;
    }
}
