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
    /** Keyed by the first matrix of the stack. */
    private final Map<Matrix, Matrix> stackedCache = new IdentityHashMap<>();
    private final Arena arena = Arena.ofAuto();

    /** {@code Wᵀ}: {@code [in, out]}, float32. */
    synchronized Matrix of(Matrix w) {
        return cache.computeIfAbsent(w, this::transposeStack);
    }

    /**
     * The transpose of {@code ws} stacked by rows ({@code [Σ out_i, in]}, all of one input width): {@code [in, Σ out_i]},
     * so that one GEMM gives {@code dX = Σ_i dY_i · W_i} from the row-concatenated {@code [dY_1 | dY_2 | ...]}. The same
     * first matrix must always come with the same others.
     */
    synchronized Matrix stacked(Matrix... ws) {
        return stackedCache.computeIfAbsent(ws[0], first -> transposeStack(ws));
    }

    private Matrix transposeStack(Matrix... ws) {
        int cols = ws[0].cols(), rows = 0;
        for (Matrix w : ws) {
            if (w.cols() != cols) throw new IllegalArgumentException(w.name() + " has " + w.cols() + " columns, not " + cols);
            rows += w.rows();
        }
        MemorySegment seg = arena.allocate((long) rows * cols * Float.BYTES, 64);
        float[] row = new float[cols];
        int r0 = 0;
        StringBuilder name = new StringBuilder();
        for (Matrix w : ws) {
            for (int r = 0; r < w.rows(); r++) {
                w.row(r, row, 0);
                for (int c = 0; c < cols; c++) seg.setAtIndex(LE_FLOAT, (long) c * rows + r0 + r, row[c]);
            }
            r0 += w.rows();
            name.append(name.isEmpty() ? "" : "|").append(w.name());
        }
        return new Matrix(name + "^T", DType.F32, cols, rows, seg);
    }
}
