package moice.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text the way HF tokenizers does: leftmost-longest matching over all patterns of one kind
 * (verbatim tokens in the raw input, normalized tokens in normalized text), non-overlapping, scanning on after each
 * match; a {@code singleWord} match next to a word character is skipped; {@code lstrip}/{@code rstrip} extend a match
 * over adjacent whitespace.
 */
final class AddedVocabulary {
    /** A piece of text: either an added token (id ≥ 0) or plain text to process further (id = -1). */
    record Segment(String text, int start, int id) {
    }

    private final Trie rawTrie = new Trie();
    private final Trie normalizedTrie = new Trie();
    private final Map<Integer, AddedToken> byId = new HashMap<>();

    /**
     * @param tokens              added tokens; for duplicate ids the last wins
     * @param normalizedPatterns  for each token with {@code normalized}, the pattern to match (its normalized content)
     */
    AddedVocabulary(List<AddedToken> tokens, Map<Integer, String> normalizedPatterns) {
        for (AddedToken t : tokens) byId.put(t.id(), t);
        for (AddedToken t : byId.values()) {
            if (t.content().isEmpty()) continue;
            if (t.normalized()) {
                String pattern = normalizedPatterns.getOrDefault(t.id(), t.content());
                if (!pattern.isEmpty()) normalizedTrie.add(pattern, t.id());
            } else {
                rawTrie.add(t.content(), t.id());
            }
        }
    }

    /** Splits raw input on the verbatim (non-normalized) added tokens. */
    List<Segment> splitRaw(String text) {
        return split(text, rawTrie);
    }

    /** Splits normalized text on the normalized added tokens. */
    List<Segment> splitNormalized(String text) {
        return split(text, normalizedTrie);
    }

    private List<Segment> split(String text, Trie trie) {
        List<Segment> out = new ArrayList<>();
        if (trie.isEmpty()) {
            if (!text.isEmpty()) out.add(new Segment(text, 0, -1));
            return out;
        }
        int emitted = 0; // end of the last segment emitted
        int pos = 0;
        while (pos < text.length()) {
            long match = trie.longestMatchFrom(text, pos);
            if (match < 0) {
                pos++;
                continue;
            }
            int matchStart = pos;
            int matchEnd = (int) (match >>> 32);
            int id = (int) match;
            pos = matchEnd; // the scan resumes after this match even when the match is rejected below
            AddedToken token = byId.get(id);
            if (token.singleWord() && (endsWithWordChar(text, matchStart) || startsWithWordChar(text, matchEnd))) {
                continue;
            }
            int start = matchStart;
            int end = matchEnd;
            if (token.lstrip()) {
                int s = start;
                while (s > 0 && UnicodeChars.isWhiteSpace(text.codePointBefore(s))) {
                    s -= Character.charCount(text.codePointBefore(s));
                }
                start = Math.max(s, emitted);
            }
            if (token.rstrip()) {
                while (end < text.length() && UnicodeChars.isWhiteSpace(text.codePointAt(end))) {
                    end += Character.charCount(text.codePointAt(end));
                }
            }
            if (emitted < start) out.add(new Segment(text.substring(emitted, start), emitted, -1));
            out.add(new Segment(text.substring(start, end), start, id));
            emitted = end;
        }
        if (emitted < text.length()) out.add(new Segment(text.substring(emitted), emitted, -1));
        return out;
    }

    private static boolean endsWithWordChar(String text, int end) {
        return end > 0 && UnicodeChars.isRustWordChar(text.codePointBefore(end));
    }

    private static boolean startsWithWordChar(String text, int start) {
        return start < text.length() && UnicodeChars.isRustWordChar(text.codePointAt(start));
    }

    /** A character trie over UTF-16 units; exact substring matching on UTF-16 equals matching on UTF-8 bytes. */
    private static final class Trie {
        private final Node root = new Node();
        private final java.util.BitSet firstChars = new java.util.BitSet(); // cheap rejection of most positions
        private boolean empty = true;

        private static final class Node {
            final Map<Character, Node> children = new HashMap<>(4);
            int id = -1;
        }

        void add(String pattern, int id) {
            Node node = root;
            firstChars.set(pattern.charAt(0));
            for (int i = 0; i < pattern.length(); i++) {
                node = node.children.computeIfAbsent(pattern.charAt(i), c -> new Node());
            }
            node.id = id;
            empty = false;
        }

        boolean isEmpty() {
            return empty;
        }

        /** (end << 32 | id) of the longest pattern starting at {@code from}, or -1. */
        long longestMatchFrom(String text, int from) {
            if (!firstChars.get(text.charAt(from))) return -1;
            Node node = root;
            long best = -1;
            for (int i = from; i < text.length(); i++) {
                node = node.children.get(text.charAt(i));
                if (node == null) break;
                if (node.id >= 0) best = ((long) (i + 1) << 32) | node.id;
            }
            return best;
        }
    }
}
