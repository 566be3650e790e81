package moice.cli;

import moice.io.SafeTensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Writes a tiny random Llama model with a real tokenizer (the byte-level SmolLM-style test tokenizer) and the real
 * SmolLM2 chat template, so that text commands (generate, chat, tokenize) can run end to end in tests.
 */
public final class TinyChatModel {
    public static final Path TOKENIZER = Path.of("src/test/resources/tokenizers/bytelevel_smollm/tokenizer.json");
    static final Path CHAT_CONFIG = Path.of("src/test/resources/chat/smollm2-instruct/tokenizer_config.json");
    public static final int VOCAB = 1504, HIDDEN = 32, INTER = 40, LAYERS = 2, HEADS = 4, KV = 2, HEAD_DIM = 8;

    private TinyChatModel() {}

    public static Path write(Path dir) throws IOException {
        return write(dir, LAYERS);
    }

    /** The same with {@code layers} decoder layers (Ms-PoE leaves layers 0 and 1 alone, so it needs more). */
    public static Path write(Path dir, int layers) throws IOException {
        return write(dir, layers, 256);
    }

    /** The same with a context of {@code maxPositions} (long-context evaluation needs more than 256). */
    public static Path write(Path dir, int layers, int maxPositions) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": %d, "hidden_size": %d,
                 "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
                 "num_key_value_heads": %d, "max_position_embeddings": %d, "rms_norm_eps": 1e-5,
                 "rope_theta": 10000.0, "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2,
                 "hidden_act": "silu"}
                """.formatted(VOCAB, HIDDEN, INTER, layers, HEADS, KV, maxPositions));
        Random rnd = new Random(7);
        SafeTensorsWriter w = new SafeTensorsWriter();
        w.addF32("model.embed_tokens.weight", random(rnd, VOCAB * HIDDEN, 1f), VOCAB, HIDDEN);
        w.addF32("model.norm.weight", ones(HIDDEN), HIDDEN);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            w.addF32(p + "input_layernorm.weight", ones(HIDDEN), HIDDEN);
            w.addF32(p + "post_attention_layernorm.weight", ones(HIDDEN), HIDDEN);
            w.addF32(p + "self_attn.q_proj.weight", random(rnd, HEADS * HEAD_DIM * HIDDEN, .2f), HEADS * HEAD_DIM, HIDDEN);
            w.addF32(p + "self_attn.k_proj.weight", random(rnd, KV * HEAD_DIM * HIDDEN, .2f), KV * HEAD_DIM, HIDDEN);
            w.addF32(p + "self_attn.v_proj.weight", random(rnd, KV * HEAD_DIM * HIDDEN, .2f), KV * HEAD_DIM, HIDDEN);
            w.addF32(p + "self_attn.o_proj.weight", random(rnd, HIDDEN * HEADS * HEAD_DIM, .2f), HIDDEN, HEADS * HEAD_DIM);
            w.addF32(p + "mlp.gate_proj.weight", random(rnd, INTER * HIDDEN, .2f), INTER, HIDDEN);
            w.addF32(p + "mlp.up_proj.weight", random(rnd, INTER * HIDDEN, .2f), INTER, HIDDEN);
            w.addF32(p + "mlp.down_proj.weight", random(rnd, HIDDEN * INTER, .2f), HIDDEN, INTER);
        }
        w.write(dir.resolve("model.safetensors"));
        Files.copy(TOKENIZER, dir.resolve("tokenizer.json"));
        Files.copy(CHAT_CONFIG, dir.resolve("tokenizer_config.json"));
        return dir;
    }

    private static float[] random(Random rnd, int n, float std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian() * std;
        return a;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }
}
