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

    /** Prompts as plain text: system message, a blank line, the user message, the answer prefix (BOS added). */
    record Plain(moice.tokenizer.Tokenizer tokenizer) implements PromptEncoder {
        @Override
        public int[] encode(String system, String user, String answerPrefix) {
            return tokenizer.encode((system != null ? system + "\n\n" : "") + user + answerPrefix, true);
        }

        @Override
        public int[] tokens(String text) { return tokenizer.encode(text, false); }

        @Override
        public String text(int[] ids) { return tokenizer.decode(ids, false); }

        @Override
        public String answerSeparator() { return " "; }
    }

    /** Prompts as one user turn (after an optional system turn) of {@code template}, with the generation prompt. */
    record Chat(moice.tokenizer.Tokenizer tokenizer, moice.tokenizer.ChatTemplate template) implements PromptEncoder {
        @Override
        public int[] encode(String system, String user, String answerPrefix) {
            java.util.List<moice.tokenizer.ChatTemplate.Message> messages = new java.util.ArrayList<>();
            if (system != null) messages.add(moice.tokenizer.ChatTemplate.Message.system(system));
            messages.add(moice.tokenizer.ChatTemplate.Message.user(user));
            return tokenizer.encode(template.render(messages, true) + answerPrefix, false);
        }

        @Override
        public int[] tokens(String text) { return tokenizer.encode(text, false); }

        @Override
        public String text(int[] ids) { return tokenizer.decode(ids, false); }
    }
}
