package moice.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code decoder} step: turns the vocabulary strings of a list of ids back into text. Each decoder maps a list of
 * token strings to a new list (HF's {@code decode_chain}); the text is the concatenation of the final list.
 */
public sealed interface Decoder {
    List<String> decodeChain(List<String> tokens);

    default String decode(List<String> tokens) {
        return String.join("", decodeChain(tokens));
    }

    /** Applies the decoders in order. */
    record Sequence(List<Decoder> steps) implements Decoder {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public List<String> decodeChain(List<String> tokens) {
            for (Decoder d : steps) tokens = d.decodeChain(tokens);
            return tokens;
        }
    }

    /**
     * Byte-level: every character stands for one byte; a token with a character outside the byte alphabet (an added
     * token such as {@code <|im_end|>} with non-Latin-1 text) contributes its own UTF-8 bytes. The bytes are decoded
     * as UTF-8 with U+FFFD for each invalid sequence.
     */
    record ByteLevel() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String t : tokens) appendBytes(t, bytes);
            return List.of(Utf8.decodeLossy(bytes.toByteArray(), bytes.size()));
        }

        static void appendBytes(String token, ByteArrayOutputStream out) {
            for (int i = 0; i < token.length(); i++) {
                if (ByteLevelAlphabet.byteOf(token.charAt(i)) < 0) {
                    out.writeBytes(token.getBytes(StandardCharsets.UTF_8));
                    return;
                }
            }
            for (int i = 0; i < token.length(); i++) out.write(ByteLevelAlphabet.byteOf(token.charAt(i)));
        }
    }

    /**
     * Byte fallback: runs of {@code <0xNN>} tokens become the text their bytes spell; a run that is not valid UTF-8
     * becomes one U+FFFD per byte.
     */
    record ByteFallback() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (String t : tokens) {
                int b = byteToken(t);
                if (b >= 0) {
                    run.write(b);
                    continue;
                }
                flush(run, out);
                out.add(t);
            }
            flush(run, out);
            return out;
        }

        private static int byteToken(String t) {
            if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
            int hi = Character.digit(t.charAt(3), 16);
            int lo = Character.digit(t.charAt(4), 16);
            return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
        }

        private static void flush(ByteArrayOutputStream run, List<String> out) {
            if (run.size() == 0) return;
            byte[] bytes = run.toByteArray();
            run.reset();
            if (Utf8.isValid(bytes, bytes.length)) {
                out.add(Utf8.decodeLossy(bytes, bytes.length));
            } else {
                for (int i = 0; i < bytes.length; i++) out.add("\uFFFD");
            }
        }
    }

    /** Concatenates all tokens into one. */
    record Fuse() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join("", tokens));
        }
    }

    /** Replaces every match of {@code pattern} in each token with {@code content} (e.g. "▁" → " "). */
    record Replace(Pattern pattern, String content) implements Decoder {
        /** Replaces every occurrence of a literal string. */
        public static Replace literal(String target, String content) {
            return new Replace(OnigRegex.literal(target), content);
        }

        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) out.add(OnigRegex.replaceAll(pattern, t, content));
            return out;
        }
    }

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} characters from each token. */
    record Strip(int content, int start, int stop) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            int width = Character.charCount(content);
            for (String t : tokens) {
                int from = 0;
                for (int i = 0; i < start && from < t.length() && t.codePointAt(from) == content; i++) from += width;
                int to = t.length();
                for (int i = 0; i < stop && to > from && t.codePointBefore(to) == content; i++) to -= width;
                out.add(t.substring(from, to));
            }
            return out;
        }
    }

    /**
     * SentencePiece metaspace: {@code replacement} becomes a space, except in the first token when a replacement was
     * prepended at encoding ({@code dropInFirstToken}), where it is removed.
     */
    record Metaspace(int replacement, boolean dropInFirstToken) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                StringBuilder sb = new StringBuilder();
                boolean first = i == 0;
                tokens.get(i).codePoints().forEach(cp -> {
                    if (cp != replacement) sb.appendCodePoint(cp);
                    else if (!(first && dropInFirstToken)) sb.append(' ');
                });
                out.add(sb.toString());
            }
            return out;
        }
    }

    /** The classic BPE decoder: {@code suffix} (e.g. "&lt;/w&gt;") marks word ends, becoming a space (none last). */
    record WordSuffix(String suffix) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                out.add(tokens.get(i).replace(suffix, i == tokens.size() - 1 ? "" : " "));
            }
            return out;
        }
    }
}
