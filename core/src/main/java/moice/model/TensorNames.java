package moice.model;

/**
 * Where a family's tensors live in a checkpoint: format strings with {@code %d} for the layer index. A family is data,
 * not a class; HF Llama, Mistral and Qwen2 share {@link #HF}.
 */
public record TensorNames(
        String embed, String finalNorm, String lmHead,
        String attnNorm, String q, String k, String v, String o,
        String qBias, String kBias, String vBias, String oBias,
        String ffnNorm, String gate, String up, String down,
        String gateBias, String upBias, String downBias) {

    /** HF transformers names (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM). */
    public static final TensorNames HF = new TensorNames(
            "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
            "model.layers.%d.input_layernorm.weight",
            "model.layers.%d.self_attn.q_proj.weight", "model.layers.%d.self_attn.k_proj.weight",
            "model.layers.%d.self_attn.v_proj.weight", "model.layers.%d.self_attn.o_proj.weight",
            "model.layers.%d.self_attn.q_proj.bias", "model.layers.%d.self_attn.k_proj.bias",
            "model.layers.%d.self_attn.v_proj.bias", "model.layers.%d.self_attn.o_proj.bias",
            "model.layers.%d.post_attention_layernorm.weight",
            "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight",
            "model.layers.%d.mlp.down_proj.weight",
            "model.layers.%d.mlp.gate_proj.bias", "model.layers.%d.mlp.up_proj.bias",
            "model.layers.%d.mlp.down_proj.bias");

    /** GGUF llama-architecture names (llama.cpp's convention). */
    public static final TensorNames GGUF = new TensorNames(
            "token_embd.weight", "output_norm.weight", "output.weight",
            "blk.%d.attn_norm.weight",
            "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight", "blk.%d.attn_output.weight",
            "blk.%d.attn_q.bias", "blk.%d.attn_k.bias", "blk.%d.attn_v.bias", "blk.%d.attn_output.bias",
            "blk.%d.ffn_norm.weight",
            "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight",
            "blk.%d.ffn_gate.bias", "blk.%d.ffn_up.bias", "blk.%d.ffn_down.bias");

    static String at(String pattern, int layer) {
        return String.format(pattern, layer);
    }
}
