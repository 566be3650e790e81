package moice.load;

import moice.MoiceException;
import moice.io.Json;
import moice.io.ModelDir;
import moice.io.MoiceCheckpoint;
import moice.io.TensorSource;
import moice.attention.RopeLayout;
import moice.attention.Routers;
import moice.io.gguf.GgufConfig;
import moice.io.gguf.GgufFile;
import moice.io.gguf.GgufTensorSource;
import moice.io.gguf.GgufTokenizerData;
import moice.tokenizer.GgufTokenizer;
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
import java.util.function.Supplier;

/**
 * A model opened from disk: its config, the runnable {@link Model} over memory-mapped weights, and (loaded on first
 * use) its tokenizer and chat template. Closing unmaps the weights; the model must not be used afterwards.
 */
public final class LoadedModel implements AutoCloseable {
    private final Path path;
    private final ModelConfig config;
    private final Model model;
    private final TensorSource tensors;
    private final Supplier<Tokenizer> tokenizerLoader;
    private final Supplier<ChatTemplate> chatTemplateLoader;
    private final Optional<Routers> builtInRouters;
    private Tokenizer tokenizer;
    private ChatTemplate chatTemplate;

    private LoadedModel(Path path, ModelConfig config, Model model, TensorSource tensors,
                        Supplier<Tokenizer> tokenizerLoader, Supplier<ChatTemplate> chatTemplateLoader,
                        Optional<Routers> builtInRouters) {
        this.path = path;
        this.config = config;
        this.model = model;
        this.tensors = tensors;
        this.tokenizerLoader = tokenizerLoader;
        this.chatTemplateLoader = chatTemplateLoader;
        this.builtInRouters = builtInRouters;
    }

    /**
     * Opens a model: a Hugging Face directory (config.json + safetensors [+ tokenizer files]) or a GGUF file (weights,
     * tokenizer and chat template all inside).
     */
    public static LoadedModel open(Path path) {
        return ModelDir.isGguf(path) && Files.isRegularFile(path) ? openGguf(path) : openHf(path);
    }

    /**
     * The tokenizer alone, without the weights: of a {@code .gguf} file, a {@code tokenizer.json} file, or a directory
     * holding one. For tokenizing where no model needs to run (no config.json or weights are read).
     */
    public static Tokenizer openTokenizer(Path path) {
        if (ModelDir.isGguf(path) && Files.isRegularFile(path)) {
            try (GgufFile gguf = GgufFile.open(path)) {
                return GgufTokenizer.build(GgufTokenizerData.read(gguf), path.toString());
            }
        }
        Path json = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(json))
            throw new MoiceException(json + ": not found (expected a model directory with tokenizer.json, a "
                    + "tokenizer.json file or a .gguf file)");
        return Tokenizer.load(json);
    }

    private static LoadedModel openHf(Path path) {
        ModelDir dir = ModelDir.of(path);
        ModelConfig config = dir.loadConfig();
        TensorSource tensors = dir.openTensors();
        try {
            Weights weights = Weights.load(config, TensorNames.HF, tensors);
            Model model = new Model(config, weights, RopeLayout.HALF_SPLIT);
            // validated at open, so that a broken MoICE checkpoint fails whatever the method
            Optional<Routers> routers = MoiceCheckpoint.read(path, dir.configJson(), tensors, config);
            Supplier<Tokenizer> tokenizer = () -> Tokenizer.load(dir.tokenizerJson().orElseThrow(() ->
                    new MoiceException(path + ": no tokenizer.json (needed to turn text into tokens)")));
            Supplier<ChatTemplate> template = () -> ChatTemplate.fromTokenizerConfig(dir.tokenizerConfigJson()
                    .orElseThrow(() -> new MoiceException(path + ": no tokenizer_config.json, so no chat template")));
            return new LoadedModel(path, config, model, tensors, tokenizer, template, routers);
        } catch (RuntimeException e) {
            tensors.close();
            throw e;
        }
    }

    private static LoadedModel openGguf(Path path) {
        GgufFile file = GgufFile.open(path);
        GgufTensorSource tensors = new GgufTensorSource(file);
        try {
            ModelConfig config = GgufConfig.read(file);
            Weights weights = Weights.load(config, TensorNames.GGUF, tensors);
            Model model = new Model(config, weights, GgufConfig.ropeLayout(file));
            // read on first use: forward and bench need no tokenizer, and a file may lack one
            Supplier<Tokenizer> tokenizer = () -> GgufTokenizer.build(GgufTokenizerData.read(file), path.toString());
            Supplier<ChatTemplate> template = () -> GgufTokenizer.chatTemplate(GgufTokenizerData.read(file), path.toString());
            return new LoadedModel(path, config, model, tensors, tokenizer, template, Optional.empty());
        } catch (RuntimeException e) {
            tensors.close();
            throw e;
        }
    }

    public Path path() { return path; }

    public ModelConfig config() { return config; }

    public Model model() { return model; }

    public TensorSource tensors() { return tensors; }

    /**
     * The MoICE routers of an official MoICE checkpoint (config.json with {@code base_set}, {@code expert_nums},
     * {@code topk} and gate tensors in the weights), validated against the model when it was opened; empty for other
     * models and for GGUF files.
     */
    public Optional<Routers> builtInRouters() { return builtInRouters; }

    /** The tokenizer; an error naming the model when it has none. */
    public synchronized Tokenizer tokenizer() {
        if (tokenizer == null) tokenizer = tokenizerLoader.get();
        return tokenizer;
    }

    /** The chat template; an error naming the model when it has none. */
    public synchronized ChatTemplate chatTemplate() {
        if (chatTemplate == null) chatTemplate = chatTemplateLoader.get();
        return chatTemplate;
    }

    /**
     * Token ids that end generation: config.json's eos_token_id, generation_config.json's (when present) and the
     * tokenizer's EOS token.
     */
    public Set<Integer> stopTokenIds() {
        Set<Integer> ids = new LinkedHashSet<>(config.eosTokenIds());
        Path gen = path.resolve("generation_config.json");
        if (Files.isDirectory(path) && Files.isRegularFile(gen)) {
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
