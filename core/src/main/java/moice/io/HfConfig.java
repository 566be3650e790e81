package moice.io;

import moice.MoiceException;
import moice.attention.RopeScaling;
import moice.model.ModelConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads a Hugging Face {@code config.json} of a Llama, Mistral or Qwen2 checkpoint into a {@link ModelConfig}.
 *
 * <p>Keys that are absent take the defaults of the family's transformers config class (checked against transformers
 * 5.x {@code models/{llama,mistral,qwen2}/configuration_*.py} and {@code modeling_rope_utils.py}), with one deliberate
 * exception: the five size keys ({@code vocab_size, hidden_size, intermediate_size, num_hidden_layers,
 * num_attention_heads}) are required, because transformers' defaults for them describe a 7B model no real
 * config.json omits them for (save_pretrained always writes them). RoPE parameters are read from {@code rope_scaling}
 * when it is a non-empty object, else from {@code rope_parameters} (transformers v5), with {@code rope_theta} inside
 * taking precedence over the top-level key, exactly as transformers standardises them.
 *
 * <p>Every error is a {@link MoiceException} naming the file and the key. The typed access is this class's own small
 * reader ({@code Fields}) over {@link Json}'s tree, not a record bound by jackson-databind: an absent key and an
 * explicit {@code null} mean different things here (see {@code num_key_value_heads}, {@code sliding_window},
 * {@code bos_token_id}, yarn's {@code factor}), and binding would turn both into {@code null}.
 */
public final class HfConfig {
    private HfConfig() {}

    /** Architectures moice runs, in the order error messages list them. */
    public static final List<String> SUPPORTED_ARCHITECTURES =
            List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");

    /** transformers' {@code RotaryEmbeddingConfigMixin.default_theta}. */
    static final double DEFAULT_ROPE_THETA = 10_000.0;

    /**
     * A family's transformers defaults for keys that may be absent. {@code defaultKvHeads} 0 means "same as
     * num_attention_heads"; {@code defaultBos}/{@code defaultEos} -1 mean None.
     */
    private enum Family {
        // configuration_llama.py: max_position_embeddings 2048, num_key_value_heads None, bos 1, eos 2
        LLAMA("LlamaForCausalLM", "llama", 2048, 0, 1, 2),
        // configuration_mistral.py: max_position_embeddings 4096*32, num_key_value_heads 8, bos 1, eos 2
        MISTRAL("MistralForCausalLM", "mistral", 4096 * 32, 8, 1, 2),
        // configuration_qwen2.py: max_position_embeddings 32768, num_key_value_heads 32, bos None, eos None
        QWEN2("Qwen2ForCausalLM", "qwen2", 32768, 32, -1, -1);

        final String architecture;
        final String modelType;
        final int defaultMaxPositions;
        final int defaultKvHeads;
        final int defaultBos;
        final int defaultEos;

        Family(String architecture, String modelType, int defaultMaxPositions, int defaultKvHeads, int defaultBos,
               int defaultEos) {
            this.architecture = architecture;
            this.modelType = modelType;
            this.defaultMaxPositions = defaultMaxPositions;
            this.defaultKvHeads = defaultKvHeads;
            this.defaultBos = defaultBos;
            this.defaultEos = defaultEos;
        }
    }

    // Defaults shared by all three classes.
    private static final double DEFAULT_RMS_NORM_EPS = 1e-6;
    private static final int DEFAULT_SLIDING_WINDOW = 4096;  // Mistral and Qwen2 `sliding_window`
    private static final int DEFAULT_MAX_WINDOW_LAYERS = 28; // Qwen2

    /** Reads and validates {@code configJson}. */
    public static ModelConfig load(Path configJson) {
        String source = configJson.toString();
        return parse(Json.object(Json.parseFile(configJson), source), source);
    }

    /** Validates an already-parsed config; {@code source} prefixes every error message (normally the file path). */
    public static ModelConfig parse(Map<String, Object> json, String source) {
        Fields f = new Fields(json, source);
        Family family = family(f);

        int vocab = f.requiredPositiveInt("vocab_size");
        int hidden = f.requiredPositiveInt("hidden_size");
        int intermediate = f.requiredPositiveInt("intermediate_size");
        int layers = f.requiredPositiveInt("num_hidden_layers");
        int heads = f.requiredPositiveInt("num_attention_heads");

        String act = f.has("hidden_act") ? f.string("hidden_act") : "silu";
        if (!act.equals("silu") && !act.equals("swish")) // transformers' ACT2FN maps both names to SiLU
            throw f.error("hidden_act", "is '" + act + "'; moice runs SwiGLU MLPs with 'silu'");

        int kvHeads;
        if (!f.has("num_key_value_heads")) kvHeads = family.defaultKvHeads == 0 ? heads : family.defaultKvHeads;
        else if (f.isNull("num_key_value_heads")) kvHeads = heads; // every family's __post_init__: None → heads
        else kvHeads = f.positiveInt("num_key_value_heads");
        if (heads % kvHeads != 0)
            throw f.error("num_attention_heads", heads + " is not a multiple of 'num_key_value_heads' " + kvHeads
                    + (f.has("num_key_value_heads") ? "" : " (the " + family.architecture + " default)"));

        int headDim;
        boolean explicitHeadDim = f.has("head_dim") && !f.isNull("head_dim");
        if (explicitHeadDim) {
            headDim = f.positiveInt("head_dim");
        } else {
            if (hidden % heads != 0)
                throw f.error("hidden_size", hidden + " is not a multiple of 'num_attention_heads' " + heads
                        + " and there is no 'head_dim'");
            headDim = hidden / heads;
        }
        // LlamaConfig.validate_architecture checks this even when head_dim is explicit.
        if (family == Family.LLAMA && hidden % heads != 0)
            throw f.error("hidden_size", hidden + " is not a multiple of 'num_attention_heads' " + heads);
        if (headDim % 2 != 0)
            throw f.error(explicitHeadDim ? "head_dim" : "hidden_size", "gives head_dim " + headDim
                    + "; RoPE needs an even head_dim");

        int maxPositions = f.has("max_position_embeddings") ? f.positiveInt("max_position_embeddings")
                : family.defaultMaxPositions;
        double eps = f.has("rms_norm_eps") ? f.number("rms_norm_eps") : DEFAULT_RMS_NORM_EPS;
        if (!(eps > 0) || Double.isInfinite(eps)) throw f.error("rms_norm_eps", "must be a positive number, found " + eps);

        boolean tied = f.has("tie_word_embeddings") && f.bool("tie_word_embeddings"); // default False in all three
        boolean qkvBias, oBias, mlpBias;
        switch (family) {
            case LLAMA -> {
                qkvBias = oBias = f.has("attention_bias") && f.bool("attention_bias"); // q, k, v and o alike
                mlpBias = f.has("mlp_bias") && f.bool("mlp_bias");
            }
            case QWEN2 -> { // modeling_qwen2.py: q/k/v bias=True, o_proj bias=False, MLP without bias
                qkvBias = true;
                oBias = false;
                mlpBias = false;
            }
            default -> qkvBias = oBias = mlpBias = false; // modeling_mistral.py: bias=False everywhere
        }

        int slidingWindow = switch (family) {
            case LLAMA -> 0;
            case MISTRAL -> mistralSlidingWindow(f);
            case QWEN2 -> qwen2SlidingWindow(f, layers);
        };

        int bos = f.has("bos_token_id") ? f.optionalTokenId("bos_token_id") : family.defaultBos;
        List<Integer> eos = f.has("eos_token_id") ? f.tokenIds("eos_token_id")
                : family.defaultEos < 0 ? List.of() : List.of(family.defaultEos);

        Rope rope = rope(f, maxPositions);

        return new ModelConfig(family.architecture, vocab, hidden, intermediate, layers, heads, kvHeads, headDim,
                (float) eps, rope.theta, rope.scaling, maxPositions, qkvBias, oBias, mlpBias, tied, slidingWindow,
                bos, eos);
    }

    private static Family family(Fields f) {
        Family byType = null;
        String modelType = f.has("model_type") && !f.isNull("model_type") ? f.string("model_type") : null;
        if (modelType != null) {
            for (Family fam : Family.values()) if (fam.modelType.equals(modelType)) byType = fam;
        }
        if (!f.has("architectures") || f.isNull("architectures")) {
            if (byType != null) return byType; // transformers' Auto classes go by model_type alone
            if (modelType != null)
                throw f.error("model_type", "is '" + modelType + "' and there is no 'architectures'; moice runs "
                        + String.join(", ", SUPPORTED_ARCHITECTURES));
            throw new MoiceException(f.source + ": missing 'architectures'");
        }
        List<Object> archs = f.array("architectures");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < archs.size(); i++) names.add(Json.string(archs.get(i), f.name("architectures") + "[" + i + "]"));
        Family byArch = null;
        if (names.size() == 1) {
            for (Family fam : Family.values()) if (fam.architecture.equals(names.getFirst())) byArch = fam;
        }
        if (byArch == null)
            throw new MoiceException(f.source + ": architectures "
                    + names.stream().map(n -> "'" + n + "'").collect(Collectors.joining(", ", "[", "]"))
                    + " is not supported; moice runs " + String.join(", ", SUPPORTED_ARCHITECTURES));
        if (modelType != null && byType != byArch)
            throw f.error("model_type", "is '" + modelType + "' but 'architectures' says " + byArch.architecture
                    + " (model_type '" + byArch.modelType + "')");
        return byArch;
    }

    /** MistralConfig: {@code sliding_window} defaults to 4096, None means full attention; applied to every layer. */
    private static int mistralSlidingWindow(Fields f) {
        if (!f.has("sliding_window")) return DEFAULT_SLIDING_WINDOW;
        if (f.isNull("sliding_window")) return 0;
        return f.positiveInt("sliding_window");
    }

    /**
     * Qwen2Config: the window exists only when {@code use_sliding_window} is true; then layer i slides iff
     * {@code layer_types[i] == "sliding_attention"}, where absent {@code layer_types} mean layers
     * {@code i >= max_window_layers} slide. ModelConfig holds one window for all layers, so a mix is rejected.
     */
    private static int qwen2SlidingWindow(Fields f, int layers) {
        boolean use = f.has("use_sliding_window") && f.bool("use_sliding_window");
        int window = 0;
        if (use) {
            if (!f.has("sliding_window")) window = DEFAULT_SLIDING_WINDOW;
            else if (!f.isNull("sliding_window")) window = f.positiveInt("sliding_window");
        }
        int sliding = 0;
        String how;
        if (f.has("layer_types") && !f.isNull("layer_types")) {
            List<Object> types = f.array("layer_types");
            if (types.size() != layers)
                throw f.error("layer_types", "has " + types.size() + " entries but 'num_hidden_layers' is " + layers);
            for (int i = 0; i < types.size(); i++) {
                String t = Json.string(types.get(i), f.name("layer_types") + "[" + i + "]");
                switch (t) {
                    case "sliding_attention" -> sliding++;
                    case "full_attention", "attention" -> { } // "attention" is transformers' legacy name
                    default -> throw f.error("layer_types", "[" + i + "] is '" + t
                            + "'; moice runs 'full_attention' and 'sliding_attention' layers");
                }
            }
            how = "'layer_types' mark " + sliding + " of " + layers + " layers as sliding";
        } else {
            int maxWindowLayers = f.has("max_window_layers") ? f.nonNegativeInt("max_window_layers") : DEFAULT_MAX_WINDOW_LAYERS;
            sliding = Math.max(0, layers - maxWindowLayers);
            how = "'max_window_layers' " + maxWindowLayers + " of 'num_hidden_layers' " + layers
                    + " makes layers " + maxWindowLayers + ".." + (layers - 1) + " sliding";
        }
        if (window == 0 || sliding == 0) return 0;
        if (sliding == layers) return window;
        throw f.error("use_sliding_window", "is true and " + how
                + "; moice applies one attention window to all layers, not a per-layer mix");
    }

    private record Rope(double theta, RopeScaling scaling) {}

    private static Rope rope(Fields f, int maxPositions) {
        Fields p = null;
        if (f.has("rope_scaling") && !f.isNull("rope_scaling")) {
            Map<String, Object> m = f.object("rope_scaling");
            if (!m.isEmpty()) p = f.child("rope_scaling", m); // HF: `rope_scaling or rope_parameters`
        }
        if (p == null && f.has("rope_parameters") && !f.isNull("rope_parameters"))
            p = f.child("rope_parameters", f.object("rope_parameters"));
        if (p == null) p = f.child("rope_parameters", Map.of());

        for (String layerType : List.of("full_attention", "sliding_attention"))
            if (p.has(layerType)) throw p.error(layerType, "gives per-layer-type RoPE parameters, which moice does not run");

        double theta = p.has("rope_theta") ? p.number("rope_theta")
                : f.has("rope_theta") ? f.number("rope_theta") : DEFAULT_ROPE_THETA;
        if (!(theta > 0) || Double.isInfinite(theta))
            throw (p.has("rope_theta") ? p : f).error("rope_theta", "must be a positive number, found " + theta);

        for (Fields where : List.of(p, f)) {
            if (where.has("partial_rotary_factor") && where.number("partial_rotary_factor") != 1.0)
                throw where.error("partial_rotary_factor", "is " + where.number("partial_rotary_factor")
                        + "; moice rotates whole heads (1.0)");
        }

        String type = p.has("rope_type") ? p.string("rope_type") : p.has("type") ? p.string("type") : "default";
        return new Rope(theta, switch (type) {
            case "default" -> RopeScaling.NONE;
            case "linear" -> new RopeScaling("linear", p.requiredFactor(), 0, 0, 0, 0, 0, Double.NaN, true);
            // dynamic NTK rescales relative to max_position_embeddings itself
            case "dynamic" -> new RopeScaling("dynamic", p.requiredFactor(), maxPositions, 0, 0, 0, 0, Double.NaN, true);
            case "llama3" -> {
                double factor = p.requiredFactor();
                double low = p.requiredPositive("low_freq_factor");
                double high = p.requiredPositive("high_freq_factor");
                yield new RopeScaling("llama3", factor, originalMaxPositions(f, p, maxPositions), low, high,
                        0, 0, Double.NaN, true);
            }
            case "yarn" -> yarn(f, p, maxPositions);
            default -> throw p.error(p.has("rope_type") ? "rope_type" : "type", "is '" + type
                    + "'; moice runs default, linear, dynamic, llama3, yarn");
        });
    }

    /** As {@code _compute_yarn_parameters}: null factor → max/original, falsy beta_fast/beta_slow → 32/1. */
    private static RopeScaling yarn(Fields f, Fields p, int maxPositions) {
        int original = originalMaxPositions(f, p, maxPositions);
        if (!p.has("factor")) throw new MoiceException(f.source + ": missing '" + p.name("factor") + "'");
        double factor = p.isNull("factor") ? (double) maxPositions / original : p.positive("factor");
        double attentionFactor = p.has("attention_factor") && !p.isNull("attention_factor")
                ? p.positive("attention_factor") : Double.NaN;
        double betaFast = p.numberOrZero("beta_fast");
        double betaSlow = p.numberOrZero("beta_slow");
        double mscale = p.numberOrZero("mscale");
        double mscaleAllDim = p.numberOrZero("mscale_all_dim");
        // transformers reads `rope_parameters.get("truncate", True)`: an explicit null is falsy.
        boolean truncate = !p.has("truncate") || (!p.isNull("truncate") && p.bool("truncate"));
        RopeScaling parsed = new RopeScaling("yarn", factor, original, 0, 0, betaFast == 0 ? 32 : betaFast,
                betaSlow == 0 ? 1 : betaSlow, attentionFactor, truncate, mscale, mscaleAllDim);
        // Settle the cos/sin multiplier here so no consumer can miss the mscale rule.
        return new RopeScaling("yarn", factor, original, 0, 0, parsed.betaFast(), parsed.betaSlow(),
                parsed.yarnAttentionFactor(), truncate, mscale, mscaleAllDim);
    }

    /**
     * llama3 and yarn: a top-level {@code original_max_position_embeddings} wins (standardize_rope_params copies it
     * over at runtime), else the one inside the RoPE parameters, else max_position_embeddings.
     */
    private static int originalMaxPositions(Fields f, Fields p, int maxPositions) {
        if (f.has("original_max_position_embeddings")) return f.positiveInt("original_max_position_embeddings");
        if (p.has("original_max_position_embeddings")) return p.positiveInt("original_max_position_embeddings");
        return maxPositions;
    }

    /** Typed access to one JSON object whose keys are named {@code prefix + key} in messages. */
    private static final class Fields {
        final Map<String, Object> map;
        final String source;
        final String prefix;

        Fields(Map<String, Object> map, String source) {
            this(map, source, "");
        }

        private Fields(Map<String, Object> map, String source, String prefix) {
            this.map = map;
            this.source = source;
            this.prefix = prefix;
        }

        Fields child(String key, Map<String, Object> m) {
            return new Fields(m, source, prefix + key + ".");
        }

        String name(String key) {
            return prefix + key;
        }

        String where(String key) {
            return source + ": '" + name(key) + "'";
        }

        MoiceException error(String key, String what) {
            return new MoiceException(where(key) + " " + what);
        }

        boolean has(String key) {
            return map.containsKey(key);
        }

        boolean isNull(String key) {
            return map.containsKey(key) && map.get(key) == null;
        }

        String string(String key) {
            return Json.string(map.get(key), where(key));
        }

        double number(String key) {
            return Json.number(map.get(key), where(key));
        }

        boolean bool(String key) {
            return Json.bool(map.get(key), where(key));
        }

        Map<String, Object> object(String key) {
            return Json.object(map.get(key), where(key));
        }

        List<Object> array(String key) {
            return Json.array(map.get(key), where(key));
        }

        int integer(String key) {
            long v = Json.integer(map.get(key), where(key));
            if (v != (int) v) throw error(key, "is " + v + ", too large");
            return (int) v;
        }

        int positiveInt(String key) {
            int v = integer(key);
            if (v <= 0) throw error(key, "must be positive, found " + v);
            return v;
        }

        int nonNegativeInt(String key) {
            int v = integer(key);
            if (v < 0) throw error(key, "must not be negative, found " + v);
            return v;
        }

        int requiredPositiveInt(String key) {
            if (!has(key)) throw new MoiceException(source + ": missing '" + name(key) + "'");
            return positiveInt(key);
        }

        double positive(String key) {
            double v = number(key);
            if (!(v > 0) || Double.isInfinite(v)) throw error(key, "must be a positive number, found " + v);
            return v;
        }

        double requiredPositive(String key) {
            if (!has(key)) throw new MoiceException(source + ": missing '" + name(key) + "'");
            return positive(key);
        }

        double requiredFactor() {
            return requiredPositive("factor");
        }

        /** Absent or null reads as 0, the way Python's {@code get(key) or default} treats them. */
        double numberOrZero(String key) {
            return !has(key) || isNull(key) ? 0 : number(key);
        }

        /** A token id or null (→ -1). */
        int optionalTokenId(String key) {
            if (isNull(key)) return -1;
            int v = integer(key);
            if (v < 0) throw error(key, "must be a token id ≥ 0 or null, found " + v);
            return v;
        }

        /** An id, a list of ids, or null (→ empty). */
        List<Integer> tokenIds(String key) {
            Object v = map.get(key);
            if (v == null) return List.of();
            if (!(v instanceof List<?>)) return List.of(optionalTokenId(key));
            List<Integer> ids = new ArrayList<>();
            List<Object> list = array(key);
            for (int i = 0; i < list.size(); i++) {
                long id = Json.integer(list.get(i), where(key) + "[" + i + "]");
                if (id < 0 || id > Integer.MAX_VALUE) throw error(key, "[" + i + "] is " + id + ", not a token id");
                ids.add((int) id);
            }
            return ids;
        }
    }
}
