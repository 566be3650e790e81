package moice.tokenizer;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The {@code normalizer} step of a tokenizer: rewrites each stretch of input text that is not an added token, before
 * pre-tokenization. Implementations mirror HF tokenizers' normalizers of the same names.
 */
public sealed interface Normalizer {
    String normalize(String text);

    /** Applies the steps in order. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public String normalize(String text) {
            for (Normalizer n : steps) text = n.normalize(text);
            return text;
        }
    }

    /** NFC, NFD, NFKC or NFKD. */
    record UnicodeForm(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String text) {
            return java.text.Normalizer.normalize(text, form);
        }
    }

    /** Lower-cases each character on its own (no context rules such as final sigma, as in HF). */
    record Lowercase() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder sb = null;
            for (int i = 0; i < text.length(); ) {
                int cp = text.codePointAt(i);
                int n = Character.charCount(cp);
                String lower = text.substring(i, i + n).toLowerCase(Locale.ROOT);
                if (sb == null && !lower.equals(text.substring(i, i + n))) sb = new StringBuilder(text.substring(0, i));
                if (sb != null) sb.append(lower);
                i += n;
            }
            return sb == null ? text : sb.toString();
        }
    }

    /** Puts {@code prefix} in front of non-empty text (SentencePiece's "▁" before the first word). */
    record Prepend(String prefix) implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /** Replaces every match of {@code pattern} (a literal or a translated Oniguruma regex) with {@code content}. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        /** Replaces every occurrence of a literal string. */
        public static Replace literal(String target, String content) {
            return new Replace(OnigRegex.literal(target), content);
        }

        @Override
        public String normalize(String text) {
            return OnigRegex.replaceAll(pattern, text, content);
        }
    }

    /** Removes Unicode White_Space from the left and/or right end. */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String normalize(String text) {
            int start = 0;
            int end = text.length();
            if (left) {
                while (start < end && UnicodeChars.isWhiteSpace(text.codePointAt(start))) {
                    start += Character.charCount(text.codePointAt(start));
                }
            }
            if (right) {
                while (end > start && UnicodeChars.isWhiteSpace(text.codePointBefore(end))) {
                    end -= Character.charCount(text.codePointBefore(end));
                }
            }
            return text.substring(start, end);
        }
    }

    /** Removes combining marks (categories Mn, Mc, Me), as HF's StripAccents; usually follows NFD. */
    record StripAccents() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder sb = new StringBuilder(text.length());
            text.codePoints().filter(cp -> switch (Character.getType(cp)) {
                case Character.NON_SPACING_MARK, Character.COMBINING_SPACING_MARK, Character.ENCLOSING_MARK -> false;
                default -> true;
            }).forEach(sb::appendCodePoint);
            return sb.toString();
        }
    }

    /** Writes each UTF-8 byte as its GPT-2 byte-level character. */
    record ByteLevel() implements Normalizer {
        @Override
        public String normalize(String text) {
            return ByteLevelAlphabet.encode(text);
        }
    }
}
