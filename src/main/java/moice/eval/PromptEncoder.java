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

    /**
     * What separates the prompt from an answer that log-likelihood scoring appends when the sample has no answer
     * prefix: nothing after a chat template's generation prompt (it ends the assistant header); plain-text prompts
     * override this with a space.
     */
    default String answerSeparator() { return ""; }

    /**
     * The text scored after the prompt for {@code answer}: after a non-empty answer prefix that does not end in white
     * space (L-Eval's {@code "\nAnswer:"}) a space, as a model writes it; else {@link #answerSeparator()}.
     */
    default String continuation(String answerPrefix, String answer) {
        if (!answerPrefix.isEmpty())
            return (Character.isWhitespace(answerPrefix.charAt(answerPrefix.length() - 1)) ? "" : " ") + answer;
        return answerSeparator() + answer;
    }
}
