package moice.io;

import moice.model.Model;
import moice.model.ModelConfig;
import moice.model.TensorNames;
import moice.model.Weights;
import moice.attention.RopeLayout;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A model opened from disk: its config, the runnable {@link Model} over memory-mapped weights, and the paths of its
 * tokenizer files. Closing unmaps the weights (the model must not be used afterwards).
 */
public record LoadedModel(Path path, ModelConfig config, Model model, Optional<Path> tokenizerJson,
                          Optional<Path> tokenizerConfigJson, TensorSource tensors) implements AutoCloseable {

    /** Opens a Hugging Face model directory (config.json + safetensors). */
    public static LoadedModel open(Path path) {
        ModelDir dir = ModelDir.of(path);
        ModelConfig config = dir.loadConfig();
        TensorSource tensors = dir.openTensors();
        try {
            Weights weights = Weights.load(config, TensorNames.HF, tensors);
            Model model = new Model(config, weights, RopeLayout.HALF_SPLIT);
            return new LoadedModel(path, config, model, dir.tokenizerJson(), dir.tokenizerConfigJson(), tensors);
        } catch (RuntimeException e) {
            tensors.close();
            throw e;
        }
    }

    @Override
    public void close() {
        tensors.close();
    }
}
