package moice.api;

import java.util.List;

/**
 * How to generate: the same knobs as {@code bin/moice generate}, with the same defaults. Immutable and thread-safe;
 * the {@code with...} methods return changed copies.
 *
 * @param maxTokens   most tokens to generate (at least 1; default 256)
 * @param temperature 0 = greedy (the default), else softmax(logits / T) sampling
 * @param topK        sample among the k most likely tokens; 0 = all
 * @param topP        nucleus mass in (0, 1]; 1 = no limit
 * @param seed        seed of the sampler: the same seed, prompt and options give the same text
 * @param stop        generation ends when one of these strings appears; it is not part of the text
 * @param context     most positions (prompt + generated); 0 = the model's {@code max_position_embeddings}
 */
public record GenerateOptions(int maxTokens, float temperature, int topK, float topP, long seed, List<String> stop,
                              int context) {
    /** The command line's defaults: 256 tokens, greedy, no stop strings, the model's context. */
    public static final GenerateOptions DEFAULT = new GenerateOptions(256, 0f, 0, 1f, 0, List.of(), 0);

    public GenerateOptions {
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens must be at least 1, got " + maxTokens);
        if (!(temperature >= 0) || Float.isInfinite(temperature))
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        if (context < 0) throw new IllegalArgumentException("context must be >= 0, got " + context);
        stop = List.copyOf(stop);
    }

    /** Greedy decoding of at most {@code maxTokens} tokens. */
    public static GenerateOptions greedy(int maxTokens) {
        return DEFAULT.withMaxTokens(maxTokens);
    }

    public GenerateOptions withMaxTokens(int n) {
        return new GenerateOptions(n, temperature, topK, topP, seed, stop, context);
    }

    /** Sampling at temperature {@code t} (0 = greedy). */
    public GenerateOptions withTemperature(float t) {
        return new GenerateOptions(maxTokens, t, topK, topP, seed, stop, context);
    }

    public GenerateOptions withTopK(int k) {
        return new GenerateOptions(maxTokens, temperature, k, topP, seed, stop, context);
    }

    public GenerateOptions withTopP(float p) {
        return new GenerateOptions(maxTokens, temperature, topK, p, seed, stop, context);
    }

    public GenerateOptions withSeed(long s) {
        return new GenerateOptions(maxTokens, temperature, topK, topP, s, stop, context);
    }

    public GenerateOptions withStop(String... strings) {
        return new GenerateOptions(maxTokens, temperature, topK, topP, seed, List.of(strings), context);
    }

    public GenerateOptions withContext(int positions) {
        return new GenerateOptions(maxTokens, temperature, topK, topP, seed, stop, positions);
    }
}
