package moice;

/**
 * An error caused by the user's input (a file, a flag, a prompt), as opposed to a bug. The message is one line that
 * names the file or field and says what was expected; the CLI prints it without a stack trace unless --verbose.
 */
public class MoiceException extends RuntimeException {
    public MoiceException(String message) {
        super(message);
    }

    public MoiceException(String message, Throwable cause) {
        super(message, cause);
    }
}
