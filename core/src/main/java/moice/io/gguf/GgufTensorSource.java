package moice.io.gguf;

import moice.MoiceException;
import moice.io.TensorSource;
import moice.tensor.DType;
import moice.tensor.Matrix;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The tensors of a GGUF file as {@link TensorSource}: GGUF lists dimensions fastest-first ({@code ne[0]} = columns), so
 * a 2-D tensor {@code [ne0, ne1]} is the matrix {@code [rows = ne1, cols = ne0]}. Views are zero-copy in the stored
 * (possibly quantised) format.
 */
public final class GgufTensorSource implements TensorSource {
    private final GgufFile file;
    private final Set<String> names = new TreeSet<>();

    public GgufTensorSource(GgufFile file) {
        this.file = file;
        for (GgufTensor t : file.tensors()) names.add(t.name());
    }

    public GgufFile file() {
        return file;
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public boolean has(String name) {
        return names.contains(name);
    }

    @Override
    public long[] shape(String name) {
        long[] dims = file.tensor(name).dims();
        long[] shape = new long[dims.length];
        for (int i = 0; i < dims.length; i++) shape[i] = dims[dims.length - 1 - i];
        return shape;
    }

    @Override
    public DType dtype(String name) {
        GgufTensor t = file.tensor(name);
        try {
            return DType.valueOf(t.type().name());
        } catch (IllegalArgumentException e) {
            throw new MoiceException(file.source() + ": tensor '" + name + "' has type " + t.type()
                    + "; moice computes with " + java.util.Arrays.toString(DType.values()));
        }
    }

    @Override
    public Matrix matrix(String name, int rows, int cols) {
        GgufTensor t = file.tensor(name);
        long[] shape = shape(name);
        boolean ok = shape.length == 2 ? shape[0] == rows && shape[1] == cols
                : shape.length == 1 && rows == 1 && shape[0] == cols;
        if (!ok)
            throw new MoiceException(file.source() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(shape)
                    + "; the model's metadata implies [" + rows + ", " + cols + "]");
        return new Matrix(name, dtype(name), rows, cols, t.data());
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public String describe(String name) {
        return file.source();
    }

    @Override
    public void close() {
        file.close();
    }
}
