package moice.io.gguf;

import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * The transformer hyperparameters of a GGUF file, as stored under {@code <architecture>.*}: typed, but not
 * interpreted. Keys that llama.cpp treats as optional are optional here too; the model loader chooses defaults
 * (KV heads = heads, rope base 10000, rope dims = embedding / heads, vocab = number of tokens).
 */
public record GgufModelParams(
        String architecture,
        int contextLength,
        int embeddingLength,
        int blockCount,
        int feedForwardLength,
        int headCount,
        OptionalInt headCountKv,
        OptionalDouble ropeFreqBase,
        double rmsNormEpsilon,
        OptionalInt ropeDimensionCount,
        OptionalInt vocabSize) {

    /**
     * Reads the keys of the file's {@code general.architecture}.
     *
     * @throws moice.MoiceException naming the key if a required key is missing or any key has the wrong type
     */
    public static GgufModelParams read(GgufMetadata md) {
        String arch = md.string(GgufKeys.ARCHITECTURE);
        return new GgufModelParams(
                arch,
                md.intValue(GgufKeys.arch(arch, GgufKeys.CONTEXT_LENGTH)),
                md.intValue(GgufKeys.arch(arch, GgufKeys.EMBEDDING_LENGTH)),
                md.intValue(GgufKeys.arch(arch, GgufKeys.BLOCK_COUNT)),
                md.intValue(GgufKeys.arch(arch, GgufKeys.FEED_FORWARD_LENGTH)),
                md.intValue(GgufKeys.arch(arch, GgufKeys.HEAD_COUNT)),
                optInt(md, GgufKeys.arch(arch, GgufKeys.HEAD_COUNT_KV)),
                md.optFloat(GgufKeys.arch(arch, GgufKeys.ROPE_FREQ_BASE)),
                md.floatValue(GgufKeys.arch(arch, GgufKeys.RMS_EPSILON)),
                optInt(md, GgufKeys.arch(arch, GgufKeys.ROPE_DIMENSION_COUNT)),
                optInt(md, GgufKeys.arch(arch, GgufKeys.VOCAB_SIZE)));
    }

    static OptionalInt optInt(GgufMetadata md, String key) {
        return md.has(key) ? OptionalInt.of(md.intValue(key)) : OptionalInt.empty();
    }
}
