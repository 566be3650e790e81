package moice.io;

import moice.MoiceException;
import moice.attention.RopeLayout;
import moice.model.Model;
import moice.model.ModelConfig;
import moice.model.TensorNames;
import moice.model.Weights;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A model opened from disk: its config, the runnable {@link Model} over memory-mapped weights, and (loaded on first
 * use) its tokenizer and chat template. Closing unmaps the weights; the model must not be used afterwards.
 */
public final class LoadedModel implements AutoCloseable {
    private final Path path;
    private final ModelConfig config;
    private final Model model;
    private final TensorSource tensors;
    private final Optional<Path> tokenizerJson;
    private final Optional<Path> tokenizerConfigJson;
    private Tokenizer tokenizer;
    private ChatTemplate chatTemplate;

    private LoadedModel(Path path, ModelConfig config, Model model, TensorSource tensors, Optional<Path> tokenizerJson,
                        Optional<Path> tokenizerConfigJson) {
        this.path = path;
        this.config = config;
        this.model = model;
        this.tensors = tensors;
        this.tokenizerJson = tokenizerJson;
        this.tokenizerConfigJson = tokenizerConfigJson;
    }

    /** Opens a Hugging Face model directory (config.json + safetensors [+ tokenizer files]). */
    public static LoadedModel open(Path path) {
        ModelDir dir = ModelDir.of(path);
        ModelConfig config = dir.loadConfig();
        TensorSource tensors = dir.openTensors();
        try {
            Weights weights = Weights.load(config, TensorNames.HF, tensors);
            Model model = new Model(config, weights, RopeLayout.HALF_SPLIT);
            return new LoadedModel(path, config, model, tensors, dir.tokenizerJson(), dir.tokenizerConfigJson());
        } catch (RuntimeException e) {
            tensors.close();
            throw e;
        }
    }

    public Path path() { return path; }

    public ModelConfig config() { return config; }

    public Model model() { return model; }

    public TensorSource tensors() { return tensors; }

    /** The tokenizer; an error naming the model when it has none. */
    public synchronized Tokenizer tokenizer() {
        if (tokenizer == null) {
            Path file = tokenizerJson.orElseThrow(() -> new MoiceException(path
                    + ": no tokenizer.json (needed to turn text into tokens)"));
            tokenizer = Tokenizer.load(file);
        }
        return tokenizer;
    }

    /** The chat template; an error naming the model when it has none. */
    public synchronized ChatTemplate chatTemplate() {
        if (chatTemplate == null) {
            Path file = tokenizerConfigJson.orElseThrow(() -> new MoiceException(path
                    + ": no tokenizer_config.json, so no chat template (drop --chat)"));
            chatTemplate = ChatTemplate.fromTokenizerConfig(file);
        }
        return chatTemplate;
    }

    /**
     * Token ids that end generation: config.json's eos_token_id, generation_config.json's (when present) and the
     * tokenizer's EOS token.
     */
    public Set<Integer> stopTokenIds() {
        Set<Integer> ids = new LinkedHashSet<>(config.eosTokenIds());
        Path gen = path.resolve("generation_config.json");
        if (Files.isRegularFile(gen)) {
            Map<String, Object> json = Json.object(Json.parseFile(gen), gen.toString());
            Object eos = json.get("eos_token_id");
            if (eos instanceof List<?> list) {
                for (Object o : list) ids.add((int) Json.integer(o, gen + ": eos_token_id"));
            } else if (eos != null) ids.add((int) Json.integer(eos, gen + ": eos_token_id"));
        }
        tokenizer().eosToken().flatMap(t -> {
            var id = tokenizer().tokenId(t);
            return id.isPresent() ? Optional.of(id.getAsInt()) : Optional.empty();
        }).ifPresent(ids::add);
        return ids;
    }

    @Override
    public void close() {
        tensors.close();
    }
}
