package moice.tokenizer;

import java.util.List;

/**
 * What a split does with the delimiters it finds (HF's {@code SplitDelimiterBehavior}); the JSON names are
 * {@code Removed}, {@code Isolated}, {@code MergedWithPrevious}, {@code MergedWithNext}, {@code Contiguous}.
 */
public enum SplitBehavior {
    /** Delimiters are dropped. */
    REMOVED,
    /** Each delimiter is its own piece. */
    ISOLATED,
    /** A delimiter joins the piece before it. */
    MERGED_WITH_PREVIOUS,
    /** A delimiter joins the piece after it. */
    MERGED_WITH_NEXT,
    /** Adjacent delimiters form one piece. */
    CONTIGUOUS;

    /**
     * Cuts {@code text} along {@code spans} (consecutive [start, end, isMatch] triples covering the text) and appends
     * the non-empty pieces to {@code out}; a piece is at the input start if its parent was and it begins at 0.
     */
    void apply(String text, boolean atStart, Spans spans, List<PreToken> out) {
        int n = spans.size();
        int[] starts = new int[n];
        int[] ends = new int[n];
        boolean[] removed = new boolean[n];
        int count = 0;
        boolean previousMatch = false;
        switch (this) {
            case ISOLATED, REMOVED -> {
                for (int i = 0; i < n; i++) {
                    starts[count] = spans.start(i);
                    ends[count] = spans.end(i);
                    removed[count++] = this == REMOVED && spans.isMatch(i);
                }
            }
            case CONTIGUOUS, MERGED_WITH_PREVIOUS -> {
                for (int i = 0; i < n; i++) {
                    boolean match = spans.isMatch(i);
                    boolean join = this == CONTIGUOUS ? match == previousMatch : match && !previousMatch;
                    if (join && count > 0) {
                        ends[count - 1] = spans.end(i);
                    } else {
                        starts[count] = spans.start(i);
                        ends[count++] = spans.end(i);
                    }
                    previousMatch = match;
                }
            }
            case MERGED_WITH_NEXT -> {
                // Built right to left, so the arrays hold the pieces in reverse order.
                for (int i = n - 1; i >= 0; i--) {
                    boolean match = spans.isMatch(i);
                    if (match && !previousMatch && count > 0) {
                        starts[count - 1] = spans.start(i);
                    } else {
                        starts[count] = spans.start(i);
                        ends[count++] = spans.end(i);
                    }
                    previousMatch = match;
                }
                for (int i = 0, j = count - 1; i < j; i++, j--) {
                    int t = starts[i];
                    starts[i] = starts[j];
                    starts[j] = t;
                    t = ends[i];
                    ends[i] = ends[j];
                    ends[j] = t;
                }
            }
        }
        for (int i = 0; i < count; i++) {
            if (removed[i] || starts[i] == ends[i]) continue;
            out.add(new PreToken(text.substring(starts[i], ends[i]), atStart && starts[i] == 0));
        }
    }
}
