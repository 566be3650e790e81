package moice.tokenizer;

/**
 * A token matched in the raw input before any other processing (HF's {@code added_tokens}): chat markers, BOS/EOS,
 * user-added words.
 *
 * @param content    the text that is matched
 * @param id         its id
 * @param special    special tokens are skipped by {@code decode(ids, true)}
 * @param singleWord match only when not inside a word (no word character right before or after)
 * @param lstrip     the match swallows the whitespace on its left
 * @param rstrip     the match swallows the whitespace on its right
 * @param normalized match against the normalized text (with the normalized form of {@code content}) instead of the
 *                   raw input
 */
public record AddedToken(String content, int id, boolean special, boolean singleWord, boolean lstrip, boolean rstrip,
                         boolean normalized) {
    /** A special token matched verbatim (the usual form of BOS, EOS and chat markers). */
    public static AddedToken special(String content, int id) {
        return new AddedToken(content, id, true, false, false, false, false);
    }
}
