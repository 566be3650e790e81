package moice.model;

import moice.attention.RopeScaling;

import java.util.List;

/**
 * The shape and numerics of a RoPE decoder-only model. One record covers every supported family (Llama 2/3, Mistral,
 * Qwen2, SmolLM); family differences are data, not subclasses.
 *
 * @param architecture       HF architecture name, e.g. {@code LlamaForCausalLM}
 * @param vocabSize          rows of the embedding and of the LM head
 * @param hiddenSize         model width
 * @param intermediateSize   SwiGLU inner width
 * @param numLayers          decoder layers
 * @param numHeads           query heads
 * @param numKvHeads         key/value heads (GQA when fewer than numHeads, MQA when 1)
 * @param headDim            per-head width (explicit {@code head_dim}, else hiddenSize / numHeads)
 * @param rmsNormEps         epsilon inside RMSNorm
 * @param ropeTheta          RoPE base θ
 * @param ropeScaling        scaling of RoPE frequencies, {@link RopeScaling#NONE} when absent
 * @param maxPositions       {@code max_position_embeddings}: the context the model was trained for
 * @param qkvBias            q/k/v projections carry biases (Qwen2, Llama {@code attention_bias})
 * @param oBias              o_proj carries a bias (Llama {@code attention_bias})
 * @param mlpBias            gate/up/down carry biases (Llama {@code mlp_bias})
 * @param tiedEmbeddings     LM head shares the embedding matrix
 * @param slidingWindow      Mistral/Qwen2 sliding-window size in tokens, 0 when attention is full
 * @param bosTokenId         BOS id or -1
 * @param eosTokenIds        ids that end generation (may be empty)
 */
public record ModelConfig(
        String architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        float rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositions,
        boolean qkvBias,
        boolean oBias,
        boolean mlpBias,
        boolean tiedEmbeddings,
        int slidingWindow,
        int bosTokenId,
        List<Integer> eosTokenIds) {

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        if (ropeScaling == null) ropeScaling = RopeScaling.NONE;
    }

    /** Width of all query heads together. */
    public int qDim() {
        return numHeads * headDim;
    }

    /** Width of all key (or value) heads together. */
    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Query heads per key/value head. */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Total parameter count of the frozen model (tied embeddings counted once). */
    public long parameterCount() {
        long h = hiddenSize, q = qDim(), kv = kvDim(), f = intermediateSize;
        long perLayer = h * q + 2 * h * kv + q * h + 3 * h * f + 2 * h;
        if (qkvBias) perLayer += q + 2 * kv;
        if (oBias) perLayer += h;
        if (mlpBias) perLayer += 2 * f + h;
        long total = numLayers * perLayer + (long) vocabSize * h + h;
        if (!tiedEmbeddings) total += (long) vocabSize * h;
        return total;
    }
}
