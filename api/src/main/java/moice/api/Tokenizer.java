package moice.api;

/**
 * A model's tokenizer on its own, without the weights: what {@code bin/moice tokenize} runs. Made by
 * {@link Moice#tokenizer}; an {@link Engine} tokenizes with the same code ({@link Engine#tokenize}).
 *
 * <p>Immutable and thread-safe: any number of threads may encode and decode at once.
 */
public final class Tokenizer {
    private final moice.tokenizer.Tokenizer tokenizer;

    Tokenizer(moice.tokenizer.Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Token ids of {@code text} as HF {@code tokenizer.encode(text)} gives them (special tokens such as BOS added). */
    public int[] encode(String text) {
        return tokenizer.encode(text, true);
    }

    /** Token ids of {@code text}; {@code addSpecialTokens}: as the tokenizer's post-processor says (e.g. BOS). */
    public int[] encode(String text, boolean addSpecialTokens) {
        return tokenizer.encode(text, addSpecialTokens);
    }

    /** The text of {@code ids}, special tokens included (HF {@code decode(ids)}). */
    public String decode(int[] ids) {
        return tokenizer.decode(ids, false);
    }

    /** One past the largest id of the vocabulary and the added tokens. */
    public int vocabSize() {
        return tokenizer.vocabSize();
    }
}
