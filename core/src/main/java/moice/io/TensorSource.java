package moice.io;

import moice.MoiceException;
import moice.model.TensorLookup;
import moice.tensor.DType;
import moice.tensor.Matrix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Named weight tensors of one model (the {@link TensorLookup} the model loads from), read in place from its files:
 * one safetensors file, a sharded safetensors checkpoint, or (later) a GGUF file.
 *
 * <p>Views returned by {@link #matrix} are zero-copy windows onto memory-mapped files; they stay valid until
 * {@link #close()}, after which touching them throws {@link IllegalStateException}. Every method that is given a name
 * the source does not hold throws a {@link MoiceException} "WHERE: tensor 'NAME' not found". Implementations are safe
 * to read from several threads at once.
 */
public interface TensorSource extends TensorLookup, AutoCloseable {

    /** Names of all tensors, sorted. */
    Set<String> names();

    /** Whether a tensor of this name exists (whatever its dtype). */
    @Override
    boolean has(String name);

    /** The tensor's shape as the file states it (a fresh copy; {@code []} for a scalar). */
    long[] shape(String name);

    /**
     * The tensor's storage type. A tensor stored in a type moice does not compute with (I64, F64, ...) is an error
     * here and in {@link #matrix}, but not at open: files may carry unused tensors of such types.
     */
    DType dtype(String name);

    /**
     * A view of the tensor as {@code [rows, cols]}, over the mapped bytes in their stored type. The file's shape must
     * be exactly {@code [rows, cols]}, or {@code [cols]} when {@code rows == 1}; any other shape is an error naming
     * both shapes ("...; config.json implies [rows, cols]"), since callers derive the expectation from the model config.
     */
    @Override
    Matrix matrix(String name, int rows, int cols);

    /** File-level string metadata (safetensors {@code __metadata__}); empty when there is none. */
    Map<String, String> metadata();

    /** The file holding the tensor, for messages. */
    String describe(String name);

    /** Unmaps all files; views handed out before become unusable. Idempotent. */
    @Override
    void close();

    /** Name of the index file of a sharded safetensors checkpoint, as HF writes it. */
    String SHARD_INDEX = "model.safetensors.index.json";

    /**
     * Opens the weights at {@code path}: a {@code .safetensors} file, a {@code *.index.json} shard index, or a model
     * directory. In a directory, {@value #SHARD_INDEX} is used when present, then {@code model.safetensors}, otherwise the
     * single {@code *.safetensors} file; no such file, or several without an index, is an error.
     */
    static TensorSource open(Path path) {
        if (!Files.exists(path)) throw new MoiceException(path + ": no such file or directory");
        if (Files.isDirectory(path)) {
            Path index = path.resolve(SHARD_INDEX);
            if (Files.isRegularFile(index)) return ShardedSafeTensors.open(index);
            Path single = path.resolve("model.safetensors");
            if (Files.isRegularFile(single)) return SafeTensors.open(single);
            List<Path> files = new ArrayList<>();
            try (Stream<Path> s = Files.list(path)) {
                s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                        .sorted().forEach(files::add);
            } catch (IOException e) {
                throw new MoiceException(path + ": cannot list directory: " + e.getMessage(), e);
            }
            if (files.isEmpty())
                throw new MoiceException(path + ": no *.safetensors file and no " + SHARD_INDEX);
            if (files.size() > 1) {
                List<String> names = files.stream().map(p -> p.getFileName().toString()).toList();
                throw new MoiceException(path + ": several .safetensors files " + names + " but no " + SHARD_INDEX
                        + " saying which form the model");
            }
            return SafeTensors.open(files.getFirst());
        }
        if (path.getFileName().toString().endsWith(".index.json")) return ShardedSafeTensors.open(path);
        return SafeTensors.open(path);
    }
}
