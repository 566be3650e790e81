package moice.io.download;

import moice.MoiceException;

import java.util.regex.Pattern;

/**
 * A Hugging Face Hub repository id {@code OWNER/NAME}.
 *
 * <p>Each part follows the Hub's own rule (letters, digits, '-', '_', '.'; no "--" or ".."; not starting or ending
 * with '-' or '.'; at most 96 characters), which also makes the cache folder name {@code OWNER--NAME} unambiguous and
 * keeps both parts free of path separators.
 */
public record RepoId(String owner, String name) {
    private static final Pattern PART = Pattern.compile("[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?");

    public RepoId {
        if (!validPart(owner) || !validPart(name)) {
            throw new MoiceException("repository id '" + owner + "/" + name
                    + "': expected OWNER/NAME made of letters, digits, '-', '_', '.' (no '--' or '..')");
        }
    }

    /** True when {@code text} has the shape OWNER/NAME with valid parts. */
    public static boolean looksLike(String text) {
        int slash = text.indexOf('/');
        return slash > 0 && slash == text.lastIndexOf('/')
                && validPart(text.substring(0, slash)) && validPart(text.substring(slash + 1));
    }

    /** Parses OWNER/NAME, or throws a {@link MoiceException} saying what was expected. */
    public static RepoId parse(String text) {
        int slash = text.indexOf('/');
        if (slash <= 0 || slash != text.lastIndexOf('/')) {
            throw new MoiceException("repository id '" + text + "': expected OWNER/NAME (one '/')");
        }
        return new RepoId(text.substring(0, slash), text.substring(slash + 1));
    }

    /** The cache folder name, {@code OWNER--NAME}. */
    public String folderName() {
        return owner + "--" + name;
    }

    @Override
    public String toString() {
        return owner + "/" + name;
    }

    private static boolean validPart(String part) {
        return part != null && PART.matcher(part).matches() && !part.contains("--") && !part.contains("..");
    }
}
