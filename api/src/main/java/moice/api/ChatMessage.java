package moice.api;

/**
 * One turn of a conversation, rendered with the model's chat template. Immutable.
 *
 * @param role    {@code system}, {@code user} or {@code assistant} (the template decides what else it accepts)
 * @param content the text of the turn
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        if (role == null || content == null) throw new IllegalArgumentException("role and content must not be null");
    }

    public static ChatMessage system(String content) { return new ChatMessage("system", content); }

    public static ChatMessage user(String content) { return new ChatMessage("user", content); }

    public static ChatMessage assistant(String content) { return new ChatMessage("assistant", content); }
}
