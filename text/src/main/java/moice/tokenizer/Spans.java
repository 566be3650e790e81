package moice.tokenizer;

import java.util.Arrays;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Consecutive [start, end) spans covering a text, each marked match or not (HF's {@code Pattern::find_matches}). */
final class Spans {
    private int[] data = new int[24];
    private int size;

    int size() {
        return size;
    }

    int start(int i) {
        return data[3 * i];
    }

    int end(int i) {
        return data[3 * i + 1];
    }

    boolean isMatch(int i) {
        return data[3 * i + 2] != 0;
    }

    private void add(int start, int end, boolean match) {
        if (3 * size + 3 > data.length) data = Arrays.copyOf(data, data.length * 2);
        data[3 * size] = start;
        data[3 * size + 1] = end;
        data[3 * size + 2] = match ? 1 : 0;
        size++;
    }

    void invert() {
        for (int i = 0; i < size; i++) data[3 * i + 2] ^= 1;
    }

    /** Matches of a regex, with the gaps between them as non-matches. */
    static Spans ofRegex(Pattern pattern, String text) {
        Spans spans = new Spans();
        Matcher m = pattern.matcher(text);
        int prev = 0;
        int from = 0;
        while (from <= text.length() && m.find(from)) {
            if (m.start() != prev) spans.add(prev, m.start(), false);
            spans.add(m.start(), m.end(), true);
            prev = m.end();
            // After an empty match move on by a whole code point (Java's own find() would step one UTF-16 unit and
            // could split a surrogate pair).
            from = m.end() > m.start() ? m.end()
                    : m.end() < text.length() ? m.end() + Character.charCount(text.codePointAt(m.end())) : m.end() + 1;
        }
        if (prev != text.length()) spans.add(prev, text.length(), false);
        return spans;
    }

    /** Every code point satisfying the predicate is a match of its own. */
    static Spans ofCodePoints(IntPredicate predicate, String text) {
        Spans spans = new Spans();
        int last = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (predicate.test(cp)) {
                if (last < i) spans.add(last, i, false);
                spans.add(i, next, true);
                last = next;
            }
            i = next;
        }
        if (last < text.length()) spans.add(last, text.length(), false);
        return spans;
    }
}
