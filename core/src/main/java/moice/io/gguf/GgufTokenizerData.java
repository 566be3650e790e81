package moice.io.gguf;

import moice.MoiceException;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * The tokenizer stored in a GGUF file ({@code tokenizer.*} keys), typed but not interpreted: {@code model} is
 * {@code gpt2} (byte-level BPE with {@code merges}) or {@code llama} (SentencePiece with {@code scores}), among
 * others. The per-token arrays, when present, have one entry per token (checked). Arrays are the record's own
 * copies; callers must not rely on record equality for them.
 */
public record GgufTokenizerData(
        String model,
        Optional<String> pre,
        String[] tokens,
        Optional<float[]> scores,
        Optional<int[]> tokenTypes,
        Optional<String[]> merges,
        OptionalInt bosTokenId,
        OptionalInt eosTokenId,
        OptionalInt unknownTokenId,
        OptionalInt paddingTokenId,
        Optional<Boolean> addBosToken,
        Optional<Boolean> addEosToken,
        Optional<String> chatTemplate) {

    /**
     * Reads the tokenizer keys; {@code tokenizer.ggml.model} and {@code tokenizer.ggml.tokens} are required.
     *
     * @throws MoiceException naming the key for a missing required key, a wrong type, or a per-token array whose
     *                        length differs from the number of tokens
     */
    public static GgufTokenizerData read(GgufFile file) {
        GgufMetadata md = file.metadata();
        String[] tokens = md.stringArray(GgufKeys.TOKENS);
        Optional<float[]> scores = md.optFloatArray(GgufKeys.SCORES);
        Optional<int[]> types = md.optIntArray(GgufKeys.TOKEN_TYPE);
        scores.ifPresent(s -> requireLength(file, GgufKeys.SCORES, s.length, tokens.length));
        types.ifPresent(t -> requireLength(file, GgufKeys.TOKEN_TYPE, t.length, tokens.length));
        return new GgufTokenizerData(
                md.string(GgufKeys.TOKENIZER_MODEL),
                md.optString(GgufKeys.TOKENIZER_PRE),
                tokens,
                scores,
                types,
                md.optStringArray(GgufKeys.MERGES),
                GgufModelParams.optInt(md, GgufKeys.BOS_TOKEN_ID),
                GgufModelParams.optInt(md, GgufKeys.EOS_TOKEN_ID),
                GgufModelParams.optInt(md, GgufKeys.UNKNOWN_TOKEN_ID),
                GgufModelParams.optInt(md, GgufKeys.PADDING_TOKEN_ID),
                md.optBool(GgufKeys.ADD_BOS_TOKEN),
                md.optBool(GgufKeys.ADD_EOS_TOKEN),
                md.optString(GgufKeys.CHAT_TEMPLATE));
    }

    private static void requireLength(GgufFile file, String key, int length, int tokens) {
        if (length != tokens)
            throw new MoiceException(file.source() + ": metadata key '" + key + "': expected one entry per token ("
                    + tokens + "), found " + length);
    }
}
