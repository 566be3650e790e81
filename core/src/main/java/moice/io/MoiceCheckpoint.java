package moice.io;

import moice.MoiceException;
import moice.attention.Routers;
import moice.model.ModelConfig;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Official MoICE checkpoints: a Hugging Face model directory whose config.json carries {@code base_set} (the RoPE
 * bases), {@code expert_nums} (their number N) and {@code topk}, and whose weights hold the router gates
 * {@code model.layers.{i}.self_attn.gate_{1,2,3}.weight} of every layer next to the usual tensors. The checks are
 * {@link RouterFile}'s, applied to config.json's fields instead of safetensors metadata.
 */
public final class MoiceCheckpoint {
    static final String BASE_SET = "base_set";
    static final String EXPERT_NUMS = "expert_nums";
    static final String TOP_K = "topk";

    private MoiceCheckpoint() {}

    /**
     * The routers built into the model at {@code dir}: empty when config.json has none of the three keys (or all are
     * null), an error naming the key or tensor when it has some but they are incomplete or do not fit {@code config}.
     */
    public static Optional<Routers> read(Path dir, Path configJson, TensorSource tensors, ModelConfig config) {
        Map<String, Object> json = Json.object(Json.parseFile(configJson), configJson.toString());
        boolean any = false;
        for (String key : new String[]{BASE_SET, EXPERT_NUMS, TOP_K}) any |= json.get(key) != null;
        if (!any) return Optional.empty();
        for (String key : new String[]{BASE_SET, EXPERT_NUMS, TOP_K})
            if (json.get(key) == null)
                throw new MoiceException(configJson + ": '" + key + "' is missing; a MoICE checkpoint needs '"
                        + BASE_SET + "', '" + EXPERT_NUMS + "' and '" + TOP_K + "'");
        double[] bases = RouterFile.bases(json.get(BASE_SET), field(configJson, BASE_SET));
        long experts = Json.integer(json.get(EXPERT_NUMS), field(configJson, EXPERT_NUMS));
        if (experts != bases.length)
            throw new MoiceException(field(configJson, EXPERT_NUMS) + " is " + experts + " but '" + BASE_SET
                    + "' lists " + bases.length + " bases; expected them to agree");
        int topK = RouterFile.topK(json.get(TOP_K), bases.length, field(configJson, TOP_K));
        return Optional.of(RouterFile.gates(tensors, dir + " (MoICE checkpoint, config.json has '" + BASE_SET + "')",
                bases, topK, config.numLayers(), config.headDim()));
    }

    private static String field(Path configJson, String key) {
        return configJson + ": '" + key + "'";
    }
}
