package moice.api;

/**
 * What one generation produced. Immutable apart from the {@code tokens} array, which the caller owns; safe to share
 * between threads as long as nobody changes that array.
 *
 * @param text                    the generated text (cut before a stop string; no prompt)
 * @param tokens                  the generated token ids (without the end-of-sequence token that stopped it)
 * @param promptTokens            tokens of the prompt as the model saw it (chat template and BOS included)
 * @param stopReason              {@code length} (maxTokens reached), {@code eos} (an end token), {@code stop} (a stop
 *                                string) or {@code context} (the context is full)
 * @param prefillTokensPerSecond  speed of the prompt's forward pass
 * @param decodeTokensPerSecond   speed of decoding after the first token
 */
public record Completion(String text, int[] tokens, int promptTokens, String stopReason, double prefillTokensPerSecond,
                         double decodeTokensPerSecond) {
    /** Number of generated tokens. */
    public int generatedTokens() { return tokens.length; }
}
