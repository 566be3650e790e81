package moice.model;

import moice.tensor.Matrix;

/** What the model needs from a checkpoint: tensors by name, checked against the shape the config implies. */
public interface TensorLookup {
    /**
     * The tensor {@code name} as a {@code [rows, cols]} matrix (a 1-D tensor of {@code cols} values when rows is 1).
     * Throws {@link moice.MoiceException} naming the file and tensor when it is absent or has another shape.
     */
    Matrix matrix(String name, int rows, int cols);

    boolean has(String name);
}
