package moice.tokenizer;

import java.util.Arrays;

/**
 * Decodes generated ids one at a time, emitting text only when it is final: a byte-level or byte-fallback token can
 * carry part of a UTF-8 character, so text ending in U+FFFD is held back until later ids complete it (or
 * {@link #finish()} is called).
 *
 * <p>Each step decodes a short window of ids (the previously emitted chunk as context, plus the new ids) and emits
 * what the new ids add to the context's text, as HF's {@code DecodeStream} does; the context makes decoders that treat
 * the first token specially (leading-space stripping) agree with whole-sequence decoding. The concatenation of
 * everything returned equals {@code tokenizer.decode(allIds, skipSpecialTokens)} whenever that text is valid UTF-8
 * (contains no U+FFFD).
 * Not thread-safe: one instance per generation.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids = new int[64];
    private int size;
    private int prefixStart; // window start: the previously emitted chunk, kept as context
    private int readStart;   // first id whose text is not yet emitted
    private String prefixText = "";

    StreamDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** Adds one id; returns the text that became final (often one token's text, possibly empty). */
    public String push(int id) {
        if (size == ids.length) ids = Arrays.copyOf(ids, size * 2);
        ids[size++] = id;
        String text = tokenizer.decode(ids, prefixStart, size, skipSpecialTokens);
        if (text.length() <= prefixText.length() || text.endsWith("\uFFFD")) return "";
        // The new ids changed how the emitted ones decode (only an invalid byte-fallback run does that): emitted
        // text cannot be taken back, so emit the new ids' own text.
        String delta = text.startsWith(prefixText) ? text.substring(prefixText.length())
                : tokenizer.decode(ids, readStart, size, skipSpecialTokens);
        prefixStart = readStart;
        readStart = size;
        prefixText = tokenizer.decode(ids, prefixStart, readStart, skipSpecialTokens);
        return delta;
    }

    /**
     * Returns whatever is still held back (an incomplete character comes out as U+FFFD) and starts afresh. If the
     * held-back ids change how the already emitted ones decode (a byte-fallback run that ends invalid), only the held
     * ids are decoded, since emitted text cannot be taken back.
     */
    public String finish() {
        String text = tokenizer.decode(ids, prefixStart, size, skipSpecialTokens);
        String delta = text.startsWith(prefixText) ? text.substring(prefixText.length())
                : tokenizer.decode(ids, readStart, size, skipSpecialTokens);
        prefixStart = size;
        readStart = size;
        prefixText = "";
        return delta;
    }
}
