package moice.io.gguf;

import moice.MoiceException;
import moice.attention.RopeLayout;
import moice.attention.RopeScaling;
import moice.model.ModelConfig;

import java.util.List;

/**
 * Maps GGUF metadata to a {@link ModelConfig}, with llama.cpp's defaults for optional keys. Architectures: {@code llama}
 * (Llama, Mistral, SmolLM: Q/K rows were permuted by the converter, so RoPE pairs are interleaved) and {@code qwen2}
 * (stored unpermuted: half-split pairs, q/k/v biases).
 */
public final class GgufConfig {
    private GgufConfig() {}

    public static ModelConfig read(GgufFile file) {
        GgufModelParams p = GgufModelParams.read(file.metadata());
        GgufMetadata md = file.metadata();
        String arch = p.architecture();
        boolean qwen2 = arch.equals("qwen2");
        if (!arch.equals("llama") && !qwen2)
            throw new MoiceException(file.source() + ": general.architecture '" + arch
                    + "' is not supported; moice runs llama and qwen2 GGUF files");
        int vocab = p.vocabSize().orElseGet(() -> md.stringArray(GgufKeys.TOKENS).length);
        int heads = p.headCount();
        int kvHeads = p.headCountKv().orElse(heads);
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new MoiceException(file.source() + ": " + arch + ".attention.head_count " + heads
                    + " is not a multiple of head_count_kv " + kvHeads);
        int headDim = md.optInteger(arch + ".attention.key_length").isPresent()
                ? (int) md.integer(arch + ".attention.key_length") : p.embeddingLength() / heads;
        int ropeDims = p.ropeDimensionCount().orElse(headDim);
        if (ropeDims != headDim)
            throw new MoiceException(file.source() + ": " + arch + ".rope.dimension_count " + ropeDims
                    + " differs from the head size " + headDim + " (partial rotary is not supported)");
        RopeScaling scaling = ropeScaling(file, arch, p.contextLength());
        boolean tied = file.findTensor("output.weight").isEmpty();
        var tok = md.optInteger(GgufKeys.BOS_TOKEN_ID);
        int bos = tok.isPresent() ? (int) tok.getAsLong() : -1;
        var eos = md.optInteger(GgufKeys.EOS_TOKEN_ID);
        return new ModelConfig(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM", vocab, p.embeddingLength(),
                p.feedForwardLength(), p.blockCount(), heads, kvHeads, headDim, (float) p.rmsNormEpsilon(),
                p.ropeFreqBase().orElse(qwen2 ? 1000000 : 10000), scaling, p.contextLength(), qwen2, false, false, tied,
                0, bos, eos.isPresent() ? List.of((int) eos.getAsLong()) : List.of());
    }

    /** RoPE pair layout of the stored Q/K weights. */
    public static RopeLayout ropeLayout(GgufFile file) {
        return file.metadata().string(GgufKeys.ARCHITECTURE).equals("llama") ? RopeLayout.INTERLEAVED : RopeLayout.HALF_SPLIT;
    }

    private static RopeScaling ropeScaling(GgufFile file, String arch, int context) {
        GgufMetadata md = file.metadata();
        String type = md.optString(arch + ".rope.scaling.type").orElse("none");
        double factor = md.optFloat(arch + ".rope.scaling.factor").orElse(1);
        int original = (int) md.optInteger(arch + ".rope.scaling.original_context_length").orElse(context);
        return switch (type) {
            case "none" -> RopeScaling.NONE;
            case "linear" -> new RopeScaling("linear", factor, 0, 0, 0, 0, 0, Double.NaN, true);
            case "yarn" -> new RopeScaling("yarn", factor, original, 0, 0, 32, 1, Double.NaN, true);
            default -> throw new MoiceException(file.source() + ": " + arch + ".rope.scaling.type '" + type
                    + "' is not supported (none, linear, yarn)");
        };
    }
}
