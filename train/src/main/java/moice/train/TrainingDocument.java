package moice.train;

import moice.tokenizer.ChatTemplate;

import java.util.List;

/**
 * One document of a training file before tokenisation: plain text, or a conversation that the model's chat template
 * renders. {@code where} names its origin ({@code file:line N} or {@code file: element N}) for error messages.
 */
public sealed interface TrainingDocument {

    String where();

    /** Plain text, tokenised as HF {@code tokenizer(text)} does (special tokens per the tokenizer's post-processor). */
    record Text(String text, String where) implements TrainingDocument {}

    /** A conversation, rendered with the chat template (which places BOS and the turn markers itself). */
    record Chat(List<ChatTemplate.Message> messages, String where) implements TrainingDocument {}
}
