package moice.io;

import moice.attention.RopeScaling;
import moice.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static moice.io.SafeTensorsTest.assertError;
import static org.junit.jupiter.api.Assertions.*;

/**
 * config.json snippets against the values transformers' config classes give for them. Sources, all transformers
 * 5.24.0: models/llama/configuration_llama.py (LlamaConfig), models/mistral/configuration_mistral.py
 * (MistralConfig), models/qwen2/configuration_qwen2.py (Qwen2Config), modeling_rope_utils.py (RoPE
 * standardisation and the yarn/llama3 functions), models/{llama,mistral,qwen2}/modeling_*.py (bias flags, sliding
 * window use). Each expected value was also checked by loading the same snippet with those classes (Python, by hand).
 */
class HfConfigTest {
    @TempDir
    Path dir;

    private Path path;

    private ModelConfig load(String json) throws IOException {
        path = dir.resolve("config.json");
        Files.writeString(path, json);
        return HfConfig.load(path);
    }

    private void assertLoadError(String json, String... fragments) throws IOException {
        path = dir.resolve("config.json");
        Files.writeString(path, json);
        String[] all = new String[fragments.length + 1];
        all[0] = path.toString();
        System.arraycopy(fragments, 0, all, 1, fragments.length);
        assertError(() -> HfConfig.load(path), all);
    }

    /** The five keys moice requires, plus {@code extra} (a JSON fragment starting with a comma, or empty). */
    private static String config(String architecture, int hidden, int heads, String extra) {
        return "{\"architectures\": [\"" + architecture + "\"], \"vocab_size\": 1000, \"hidden_size\": " + hidden
                + ", \"intermediate_size\": 256, \"num_hidden_layers\": 4, \"num_attention_heads\": " + heads + extra + "}";
    }

    // ---- family defaults ----

    @Test
    void llamaDefaults() throws IOException {
        ModelConfig c = load(config("LlamaForCausalLM", 64, 4, ""));
        assertEquals("LlamaForCausalLM", c.architecture());
        assertEquals(4, c.numKvHeads());          // num_key_value_heads None → num_attention_heads
        assertEquals(16, c.headDim());            // head_dim None → hidden_size // num_attention_heads
        assertEquals(1e-6f, c.rmsNormEps());      // rms_norm_eps: float = 1e-6
        assertEquals(10_000.0, c.ropeTheta());    // RotaryEmbeddingConfigMixin.default_theta
        assertEquals(RopeScaling.NONE, c.ropeScaling());
        assertEquals(2048, c.maxPositions());     // max_position_embeddings: int = 2048
        assertFalse(c.qkvBias());                 // attention_bias: bool = False
        assertFalse(c.oBias());
        assertFalse(c.mlpBias());                 // mlp_bias: bool = False
        assertFalse(c.tiedEmbeddings());          // tie_word_embeddings: bool = False
        assertEquals(0, c.slidingWindow());       // LlamaAttention has no sliding window
        assertEquals(1, c.bosTokenId());          // bos_token_id = 1
        assertEquals(List.of(2), c.eosTokenIds()); // eos_token_id = 2
    }

    @Test
    void mistralDefaults() throws IOException {
        ModelConfig c = load(config("MistralForCausalLM", 128, 16, ""));
        assertEquals(8, c.numKvHeads());          // num_key_value_heads: int = 8
        assertEquals(8, c.headDim());
        assertEquals(131_072, c.maxPositions());  // max_position_embeddings = 4096 * 32
        assertEquals(4096, c.slidingWindow());    // sliding_window = 4096, used by every layer
        assertFalse(c.qkvBias() || c.oBias() || c.mlpBias()); // modeling_mistral: bias=False everywhere
        assertFalse(c.tiedEmbeddings());          // tie_word_embeddings: bool = False
        assertEquals(1e-6f, c.rmsNormEps());
        assertEquals(10_000.0, c.ropeTheta());
        assertEquals(1, c.bosTokenId());
        assertEquals(List.of(2), c.eosTokenIds());
    }

    @Test
    void qwen2Defaults() throws IOException {
        ModelConfig c = load(config("Qwen2ForCausalLM", 2048, 32, ""));
        assertEquals(32, c.numKvHeads());         // num_key_value_heads = 32 (not num_attention_heads!)
        assertEquals(64, c.headDim());
        assertEquals(32_768, c.maxPositions());   // max_position_embeddings = 32768
        assertTrue(c.qkvBias());                  // modeling_qwen2: q/k/v bias=True
        assertFalse(c.oBias());                   // o_proj bias=False
        assertFalse(c.mlpBias());
        assertFalse(c.tiedEmbeddings());          // tie_word_embeddings: bool = False
        assertEquals(0, c.slidingWindow());       // use_sliding_window = False → sliding_window None
        assertEquals(-1, c.bosTokenId());         // bos_token_id None
        assertEquals(List.of(), c.eosTokenIds()); // eos_token_id None
        assertEquals(1e-6f, c.rmsNormEps());
        assertEquals(10_000.0, c.ropeTheta());
    }

    @Test
    void qwen2DefaultKvHeadsMustDivideHeads() throws IOException {
        // 14 heads and no num_key_value_heads: Qwen2Config gives 32 KV heads, which cannot group 14 query heads
        assertLoadError(config("Qwen2ForCausalLM", 896, 14, ""), "'num_attention_heads' 14",
                "'num_key_value_heads' 32", "Qwen2ForCausalLM default");
        // an explicit null takes __post_init__'s num_attention_heads fallback
        assertEquals(14, load(config("Qwen2ForCausalLM", 896, 14, ", \"num_key_value_heads\": null")).numKvHeads());
    }

    /** SmolLM2-135M-Instruct's config.json (the project's end-to-end model), abridged to what moice reads. */
    @Test
    void smolLm2() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
                 "bos_token_id": 1, "eos_token_id": 2, "head_dim": 64, "hidden_act": "silu", "hidden_size": 576,
                 "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": true,
                 "max_position_embeddings": 8192, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 9,
                 "num_hidden_layers": 30, "num_key_value_heads": 3, "pad_token_id": 2, "pretraining_tp": 1,
                 "rms_norm_eps": 1e-05, "rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000,
                 "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.42.3",
                 "use_cache": true, "vocab_size": 49152}""");
        assertEquals(new ModelConfig("LlamaForCausalLM", 49152, 576, 1536, 30, 9, 3, 64, 1e-5f, 100_000.0,
                RopeScaling.NONE, 8192, false, false, false, true, 0, 1, List.of(2)), c);
    }

    /** Qwen2.5-0.5B-Instruct-style: sliding window configured but switched off, tied embeddings, list of EOS ids. */
    @Test
    void qwen25Style() throws IOException {
        ModelConfig c = load("""
                {"architectures": ["Qwen2ForCausalLM"], "bos_token_id": 151643, "eos_token_id": [151645, 151643],
                 "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864, "max_position_embeddings": 32768,
                 "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
                 "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
                 "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_sliding_window": false,
                 "vocab_size": 151936}""");
        assertEquals(2, c.numKvHeads());
        assertEquals(64, c.headDim());
        assertEquals(1_000_000.0, c.ropeTheta());
        assertTrue(c.tiedEmbeddings());
        assertEquals(0, c.slidingWindow());
        assertEquals(151643, c.bosTokenId());
        assertEquals(List.of(151645, 151643), c.eosTokenIds());
    }

    @Test
    void llamaBiasFlagsAndExplicitHeadDim() throws IOException {
        ModelConfig c = load(config("LlamaForCausalLM", 64, 4,
                ", \"attention_bias\": true, \"mlp_bias\": true, \"head_dim\": 32, \"num_key_value_heads\": 2"));
        assertTrue(c.qkvBias());  // LlamaAttention: q/k/v/o all bias=config.attention_bias
        assertTrue(c.oBias());
        assertTrue(c.mlpBias());  // LlamaMLP: bias=config.mlp_bias
        assertEquals(32, c.headDim());
        assertEquals(2, c.numKvHeads());
        // head_dim: null means "derive", as in every family's __post_init__
        assertEquals(16, load(config("LlamaForCausalLM", 64, 4, ", \"head_dim\": null")).headDim());
    }

    @Test
    void mistralIgnoresLlamaBiasKeysAndHonoursNullWindow() throws IOException {
        ModelConfig c = load(config("MistralForCausalLM", 64, 8, ", \"attention_bias\": true, \"sliding_window\": null"));
        assertFalse(c.qkvBias());       // MistralAttention hard-codes bias=False
        assertEquals(0, c.slidingWindow());
        assertEquals(1000, load(config("MistralForCausalLM", 64, 8, ", \"sliding_window\": 1000")).slidingWindow());
        // Mistral allows head_dim without hidden % heads == 0 (Mistral-Nemo: 5120 / 32 heads, head_dim 128)
        assertEquals(128, load(config("MistralForCausalLM", 5120, 32, ", \"head_dim\": 128")).headDim());
    }

    /**
     * Qwen2Config.__post_init__: sliding_window kept only if use_sliding_window; layer_types default to
     * "sliding_attention" for i >= max_window_layers (max_window_layers defaults to 28).
     */
    @Test
    void qwen2SlidingWindowLayers() throws IOException {
        String on = ", \"use_sliding_window\": true, \"sliding_window\": 512";
        assertEquals(512, load(config("Qwen2ForCausalLM", 64, 4, on + ", \"max_window_layers\": 0, \"num_key_value_heads\": 4"))
                .slidingWindow(), "every layer slides");
        assertEquals(0, load(config("Qwen2ForCausalLM", 64, 4, on + ", \"max_window_layers\": 4, \"num_key_value_heads\": 4"))
                .slidingWindow(), "layers 0..3 < max_window_layers: all full");
        assertEquals(0, load(config("Qwen2ForCausalLM", 64, 4, on + ", \"num_key_value_heads\": 4"))
                .slidingWindow(), "default max_window_layers 28 ≥ 4 layers");
        assertEquals(512, load(config("Qwen2ForCausalLM", 64, 4, on + ", \"num_key_value_heads\": 4, \"layer_types\": "
                + "[\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\"]"))
                .slidingWindow(), "explicit layer_types win over max_window_layers");
        assertEquals(0, load(config("Qwen2ForCausalLM", 64, 4, ", \"num_key_value_heads\": 4, \"layer_types\": "
                + "[\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\"]"))
                .slidingWindow(), "use_sliding_window false: sliding layers have no window");
        assertLoadError(config("Qwen2ForCausalLM", 64, 4, on + ", \"max_window_layers\": 2, \"num_key_value_heads\": 4"),
                "'use_sliding_window'", "'max_window_layers' 2", "layers 2..3", "per-layer");
        assertLoadError(config("Qwen2ForCausalLM", 64, 4, on + ", \"num_key_value_heads\": 4, \"layer_types\": "
                + "[\"full_attention\", \"chunked_attention\", \"full_attention\", \"full_attention\"]"),
                "'layer_types'", "[1]", "chunked_attention");
        assertLoadError(config("Qwen2ForCausalLM", 64, 4, on + ", \"num_key_value_heads\": 4, \"layer_types\": [\"full_attention\"]"),
                "'layer_types'", "1 entries", "4");
    }

    @Test
    void eosAndBosForms() throws IOException {
        assertEquals(List.of(), load(config("LlamaForCausalLM", 64, 4, ", \"eos_token_id\": null")).eosTokenIds());
        assertEquals(List.of(7), load(config("LlamaForCausalLM", 64, 4, ", \"eos_token_id\": 7")).eosTokenIds());
        assertEquals(List.of(7, 9), load(config("LlamaForCausalLM", 64, 4, ", \"eos_token_id\": [7, 9]")).eosTokenIds());
        assertEquals(-1, load(config("LlamaForCausalLM", 64, 4, ", \"bos_token_id\": null")).bosTokenId());
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"eos_token_id\": \"</s>\""), "'eos_token_id'", "integer");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"eos_token_id\": [1, \"x\"]"), "'eos_token_id'[1]", "integer");
    }

    @Test
    void architectureFallsBackToModelTypeAndMustAgreeWithIt() throws IOException {
        String noArch = "{\"model_type\": \"mistral\", \"vocab_size\": 10, \"hidden_size\": 64, \"intermediate_size\": 8,"
                + " \"num_hidden_layers\": 1, \"num_attention_heads\": 8}";
        assertEquals("MistralForCausalLM", load(noArch).architecture());
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"model_type\": \"qwen2\""),
                "'model_type' is 'qwen2'", "LlamaForCausalLM");
        assertLoadError("{\"vocab_size\": 10}", "missing 'architectures'");
    }

    // ---- RoPE: each type from rope_scaling (transformers v4 configs) and rope_parameters (v5) ----

    private RopeScaling ropeOf(String ropeJson, boolean v5Form, String extra) throws IOException {
        String key = v5Form ? "rope_parameters" : "rope_scaling";
        return load(config("LlamaForCausalLM", 64, 4, ", \"max_position_embeddings\": 4096, \"" + key + "\": "
                + ropeJson + extra)).ropeScaling();
    }

    @Test
    void linear() throws IOException {
        for (boolean v5 : new boolean[]{false, true}) {
            RopeScaling s = ropeOf(v5 ? "{\"rope_type\": \"linear\", \"factor\": 2.0, \"rope_theta\": 10000.0}"
                    : "{\"type\": \"linear\", \"factor\": 2.0}", v5, "");
            assertEquals("linear", s.type());
            assertEquals(2.0, s.factor());
        }
    }

    @Test
    void dynamic() throws IOException {
        for (boolean v5 : new boolean[]{false, true}) {
            RopeScaling s = ropeOf("{\"" + (v5 ? "rope_type" : "type") + "\": \"dynamic\", \"factor\": 3}", v5, "");
            assertEquals("dynamic", s.type());
            assertEquals(3.0, s.factor());
            assertEquals(4096, s.originalMaxPositions()); // _compute_dynamic_ntk_parameters uses max_position_embeddings
        }
    }

    /** Llama 3.1's rope_scaling, verbatim. */
    @Test
    void llama3() throws IOException {
        String body = "\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                + "\"original_max_position_embeddings\": 8192";
        for (boolean v5 : new boolean[]{false, true}) {
            ModelConfig c = load(config("LlamaForCausalLM", 64, 4, ", \"max_position_embeddings\": 131072, "
                    + (v5 ? "\"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, " + body + "}"
                    : "\"rope_theta\": 500000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", " + body + "}")));
            assertEquals(500_000.0, c.ropeTheta());
            assertEquals(new RopeScaling("llama3", 8, 8192, 1, 4, 0, 0, Double.NaN, true), c.ropeScaling());
        }
        // original_max_position_embeddings absent → standardize_rope_params sets max_position_embeddings
        assertEquals(4096, ropeOf("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
                + "\"high_freq_factor\": 4.0}", true, "").originalMaxPositions());
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                + "\"high_freq_factor\": 4.0}"), "missing 'rope_scaling.low_freq_factor'");
    }

    /** Qwen2.5's long-context recipe: {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}. */
    @Test
    void yarn() throws IOException {
        for (boolean v5 : new boolean[]{false, true}) {
            RopeScaling s = ropeOf("{\"" + (v5 ? "rope_type" : "type") + "\": \"yarn\", \"factor\": 4.0, "
                    + "\"original_max_position_embeddings\": 32768}", v5, "");
            assertEquals("yarn", s.type());
            assertEquals(4.0, s.factor());
            assertEquals(32768, s.originalMaxPositions());
            assertEquals(32.0, s.betaFast());   // `beta_fast or 32`
            assertEquals(1.0, s.betaSlow());    // `beta_slow or 1`
            assertTrue(s.truncate());           // get("truncate", True)
            // attention_factor None → get_mscale(factor) = 0.1·ln(4) + 1; transformers returns 1.1386294361119891
            assertEquals(1.1386294361119891, s.attentionFactor(), 1e-15);
        }
    }

    @Test
    void yarnOptionalParameters() throws IOException {
        // mscale and mscale_all_dim both set: get_mscale(f, mscale) / get_mscale(f, mscale_all_dim)
        RopeScaling m = ropeOf("{\"rope_type\": \"yarn\", \"factor\": 40, \"mscale\": 1.0, \"mscale_all_dim\": 0.5, "
                + "\"beta_fast\": 16, \"beta_slow\": 2, \"truncate\": false}", true, "");
        assertEquals((0.1 * Math.log(40) + 1) / (0.05 * Math.log(40) + 1), m.attentionFactor(), 1e-15);
        assertEquals(1.0, m.mscale());
        assertEquals(0.5, m.mscaleAllDim());
        assertEquals(16.0, m.betaFast());
        assertEquals(2.0, m.betaSlow());
        assertFalse(m.truncate());
        // explicit attention_factor wins
        assertEquals(0.9, ropeOf("{\"type\": \"yarn\", \"factor\": 4.0, \"attention_factor\": 0.9}", false, "")
                .attentionFactor());
        // factor null → max_position_embeddings / original_max_position_embeddings = 4096 / 1024
        assertEquals(4.0, ropeOf("{\"rope_type\": \"yarn\", \"factor\": null, \"original_max_position_embeddings\": 1024}",
                true, "").factor());
        // a top-level original_max_position_embeddings overrides the one in the dict (standardize_rope_params, Phi3 rule)
        assertEquals(999, ropeOf("{\"type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 1024}",
                false, ", \"original_max_position_embeddings\": 999").originalMaxPositions());
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": {\"type\": \"yarn\"}"),
                "missing 'rope_scaling.factor'");
    }

    @Test
    void ropePrecedence() throws IOException {
        // convert_rope_params_to_dict: `rope_scaling or rope_parameters`, and theta inside the dict wins
        ModelConfig c = load(config("LlamaForCausalLM", 64, 4, ", \"rope_theta\": 3.0, "
                + "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, "
                + "\"rope_parameters\": {\"rope_type\": \"dynamic\", \"factor\": 5.0, \"rope_theta\": 7.0}"));
        assertEquals("linear", c.ropeScaling().type());
        assertEquals(3.0, c.ropeTheta(), "rope_scaling has no theta: top-level rope_theta");
        c = load(config("LlamaForCausalLM", 64, 4, ", \"rope_theta\": 3.0, \"rope_scaling\": {}, "
                + "\"rope_parameters\": {\"rope_type\": \"dynamic\", \"factor\": 5.0, \"rope_theta\": 7.0}"));
        assertEquals("dynamic", c.ropeScaling().type(), "empty rope_scaling is falsy");
        assertEquals(7.0, c.ropeTheta(), "rope_theta inside the dict wins");
        c = load(config("LlamaForCausalLM", 64, 4, ", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1e6}"));
        assertEquals(RopeScaling.NONE, c.ropeScaling());
        assertEquals(1e6, c.ropeTheta());
        // rope_type wins over the legacy `type` key
        assertEquals("linear", ropeOf("{\"type\": \"dynamic\", \"rope_type\": \"linear\", \"factor\": 2}", false, "").type());
    }

    @Test
    void ropeErrors() throws IOException {
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": {\"type\": \"longrope\", \"factor\": 2}"),
                "'rope_scaling.type' is 'longrope'", "default, linear, dynamic, llama3, yarn");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_parameters\": {\"rope_type\": \"su\"}"),
                "'rope_parameters.rope_type' is 'su'");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": {\"type\": \"linear\"}"),
                "missing 'rope_scaling.factor'");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": \"2\"}"),
                "'rope_scaling.factor'", "number");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 0}"),
                "'rope_scaling.factor'", "positive");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_scaling\": \"linear\""), "'rope_scaling'", "object");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_theta\": -1"), "'rope_theta'", "positive");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"partial_rotary_factor\": 0.5"), "'partial_rotary_factor'");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\"}}"),
                "'rope_parameters.full_attention'", "per-layer");
    }

    // ---- malformed configs ----

    @Test
    void malformedJson() throws IOException {
        assertLoadError("{\"architectures\": [\"LlamaForCausalLM\"], ", "malformed JSON");
        assertLoadError("[1]", "expected a JSON object");
    }

    @Test
    void unsupportedArchitecture() throws IOException {
        path = dir.resolve("config.json");
        Files.writeString(path, config("GPT2LMHeadModel", 64, 4, ""));
        assertEquals(path + ": architectures ['GPT2LMHeadModel'] is not supported; moice runs LlamaForCausalLM, "
                + "MistralForCausalLM, Qwen2ForCausalLM", assertError(() -> HfConfig.load(path)));
        assertLoadError(config("LlamaForCausalLM\", \"MistralForCausalLM", 64, 4, ""),
                "architectures ['LlamaForCausalLM', 'MistralForCausalLM'] is not supported");
    }

    @Test
    void missingRequiredKey() throws IOException {
        path = dir.resolve("config.json");
        Files.writeString(path, "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 10}");
        assertEquals(path + ": missing 'hidden_size'", assertError(() -> HfConfig.load(path)));
    }

    @Test
    void wrongTypesNameTheField() throws IOException {
        assertLoadError(config("LlamaForCausalLM", 64, 4, "").replace("\"hidden_size\": 64", "\"hidden_size\": \"64\""),
                "'hidden_size'", "integer");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"tie_word_embeddings\": 1"), "'tie_word_embeddings'", "true or false");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rms_norm_eps\": \"1e-5\""), "'rms_norm_eps'", "number");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"max_position_embeddings\": 2.5"), "'max_position_embeddings'", "integer");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"max_position_embeddings\": 3000000000"),
                "'max_position_embeddings'", "too large");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"hidden_act\": \"gelu\""), "'hidden_act'", "silu");
        assertEquals(16, load(config("LlamaForCausalLM", 64, 4, ", \"hidden_act\": \"swish\"")).headDim(),
                "ACT2FN['swish'] is SiLU too");
    }

    @Test
    void inconsistentSizes() throws IOException {
        assertLoadError(config("LlamaForCausalLM", 0, 4, ""), "'hidden_size'", "positive");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"num_key_value_heads\": -2"), "'num_key_value_heads'", "positive");
        assertLoadError(config("LlamaForCausalLM", 60, 8, ""), "'hidden_size' 60", "'num_attention_heads' 8");
        // LlamaConfig.validate_architecture rejects this even with an explicit head_dim
        assertLoadError(config("LlamaForCausalLM", 60, 8, ", \"head_dim\": 8"), "'hidden_size' 60", "multiple");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"num_key_value_heads\": 3"),
                "'num_attention_heads' 4", "'num_key_value_heads' 3");
        assertLoadError(config("MistralForCausalLM", 64, 8, ", \"head_dim\": 7"), "'head_dim'", "even");
        assertLoadError(config("LlamaForCausalLM", 64, 4, ", \"rms_norm_eps\": 0"), "'rms_norm_eps'", "positive");
    }
}
