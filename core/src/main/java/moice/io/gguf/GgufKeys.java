package moice.io.gguf;

/**
 * Metadata keys that moice reads from GGUF files. Architecture keys are {@code <arch>.<suffix>} where
 * {@code <arch>} is the value of {@link #ARCHITECTURE} ({@code llama} for Llama, Mistral and SmolLM files).
 */
public final class GgufKeys {
    private GgufKeys() {}

    public static final String ARCHITECTURE = "general.architecture";
    public static final String ALIGNMENT = GgufFile.ALIGNMENT_KEY;

    public static final String CONTEXT_LENGTH = "context_length";
    public static final String EMBEDDING_LENGTH = "embedding_length";
    public static final String BLOCK_COUNT = "block_count";
    public static final String FEED_FORWARD_LENGTH = "feed_forward_length";
    public static final String HEAD_COUNT = "attention.head_count";
    public static final String HEAD_COUNT_KV = "attention.head_count_kv";
    public static final String ROPE_FREQ_BASE = "rope.freq_base";
    public static final String RMS_EPSILON = "attention.layer_norm_rms_epsilon";
    public static final String ROPE_DIMENSION_COUNT = "rope.dimension_count";
    public static final String VOCAB_SIZE = "vocab_size";

    public static final String TOKENIZER_MODEL = "tokenizer.ggml.model";
    public static final String TOKENIZER_PRE = "tokenizer.ggml.pre";
    public static final String TOKENS = "tokenizer.ggml.tokens";
    public static final String SCORES = "tokenizer.ggml.scores";
    public static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    public static final String MERGES = "tokenizer.ggml.merges";
    public static final String BOS_TOKEN_ID = "tokenizer.ggml.bos_token_id";
    public static final String EOS_TOKEN_ID = "tokenizer.ggml.eos_token_id";
    public static final String UNKNOWN_TOKEN_ID = "tokenizer.ggml.unknown_token_id";
    public static final String PADDING_TOKEN_ID = "tokenizer.ggml.padding_token_id";
    public static final String ADD_BOS_TOKEN = "tokenizer.ggml.add_bos_token";
    public static final String ADD_EOS_TOKEN = "tokenizer.ggml.add_eos_token";
    public static final String CHAT_TEMPLATE = "tokenizer.chat_template";

    /** {@code <architecture>.<suffix>}, e.g. {@code llama.block_count}. */
    public static String arch(String architecture, String suffix) {
        return architecture + "." + suffix;
    }
}
