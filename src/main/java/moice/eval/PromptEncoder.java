package moice.eval;

/**
 * Turns a prompt into the model's token ids the way generation will see it (chat template or plain text), so that
 * task generators can measure lengths in real model tokens.
 */
public interface PromptEncoder {
    /**
     * The ids of the full prompt.
     *
     * @param system       system message or null
     * @param user         user message
     * @param answerPrefix text appended after the generation prompt (may be empty)
     */
    int[] encode(String system, String user, String answerPrefix);

    /** Ids of bare text (no special tokens, no template): used to cut long documents to a token budget. */
    int[] tokens(String text);

    /** Text of ids produced by {@link #tokens}. */
    String text(int[] ids);
}
