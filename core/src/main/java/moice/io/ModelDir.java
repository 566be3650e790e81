package moice.io;

import moice.MoiceException;
import moice.model.ModelConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * The files of a Hugging Face model directory: {@code config.json} (required), the safetensors weights, and the
 * tokenizer files when present. Locating holds no resources; {@link #openTensors()} maps the weights.
 *
 * <p>A {@code .gguf} file is a model too (docs/architecture.md, docs/cli.md) but has no directory layout: callers dispatch on
 * {@link #isGguf(Path)} before coming here, and {@link #of(Path)} refuses such a file with a clear message.
 *
 * @param dir                  the model directory
 * @param configJson           {@code dir/config.json}
 * @param tokenizerJson        {@code dir/tokenizer.json}, if present
 * @param tokenizerConfigJson  {@code dir/tokenizer_config.json}, if present
 */
public record ModelDir(Path dir, Path configJson, Optional<Path> tokenizerJson, Optional<Path> tokenizerConfigJson) {

    /** Whether {@code path} names a GGUF file (by extension), which {@link #of} does not handle. */
    public static boolean isGguf(Path path) {
        return path.getFileName() != null && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf");
    }

    /** Locates the files of the model directory {@code dir}; errors when it does not exist or has no config.json. */
    public static ModelDir of(Path dir) {
        if (!Files.exists(dir)) throw new MoiceException(dir + ": no such file or directory");
        if (!Files.isDirectory(dir)) {
            if (isGguf(dir)) throw new MoiceException(dir + ": a GGUF file, not a model directory");
            throw new MoiceException(dir + ": not a model directory (expected a directory holding config.json and "
                    + "*.safetensors, or a .gguf file)");
        }
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config))
            throw new MoiceException(dir + ": no config.json (expected a Hugging Face model directory)");
        return new ModelDir(dir, config, existing(dir.resolve("tokenizer.json")),
                existing(dir.resolve("tokenizer_config.json")));
    }

    private static Optional<Path> existing(Path p) {
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /** Parses and validates config.json. */
    public ModelConfig loadConfig() {
        return HfConfig.load(configJson);
    }

    /** Opens the weights (sharded index when present, else the single safetensors file); the caller closes them. */
    public TensorSource openTensors() {
        return TensorSource.open(dir);
    }
}
