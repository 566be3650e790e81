package moice.train;

import moice.tensor.DType;
import moice.tensor.Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Float32 transposes of frozen weight matrices, made on first use and kept. The backward pass needs
 * {@code dX = dY · W} for every projection {@code W [out, in]}; with {@code Wᵀ} stored as a matrix of its own that
 * product is the engine's ordinary GEMM ({@code dY · (Wᵀ)ᵀ}), so training reuses the tuned kernel. Costs four bytes per
 * weight (540 MB for SmolLM2-135M), whatever the stored format.
 */
final class TransposedWeights {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Map<Matrix, Matrix> cache = new IdentityHashMap<>();
    private final Arena arena = Arena.ofAuto();

    /** {@code Wᵀ}: {@code [in, out]}, float32. */
    synchronized Matrix of(Matrix w) {
        return cache.computeIfAbsent(w, this::transpose);
    }

    private Matrix transpose(Matrix w) {
        int rows = w.rows(), cols = w.cols();
        MemorySegment seg = arena.allocate((long) rows * cols * Float.BYTES, 64);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.row(r, row, 0);
            for (int c = 0; c < cols; c++) seg.setAtIndex(LE_FLOAT, (long) c * rows + r, row[c]);
        }
        return new Matrix(w.name() + "^T", DType.F32, cols, rows, seg);
    }
}
