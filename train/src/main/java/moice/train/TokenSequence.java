package moice.train;

/**
 * One training sequence: token ids and which of them count in the cross-entropy.
 *
 * @param tokens  at least 2 ids
 * @param targets {@code targets[t]} true when token {@code t} (t ≥ 1) is predicted and counts in the loss; null means
 *                every token from index 1 on (the {@link RouterObjective} convention)
 */
public record TokenSequence(int[] tokens, boolean[] targets) {
    public TokenSequence {
        if (tokens.length < 2) throw new IllegalArgumentException("a training sequence needs at least 2 tokens");
        if (targets != null && targets.length != tokens.length)
            throw new IllegalArgumentException("targets and tokens differ in length");
    }

    /** Number of predicted tokens that count in the loss. */
    public int targetCount() {
        if (targets == null) return tokens.length - 1;
        int n = 0;
        for (int t = 1; t < targets.length; t++) if (targets[t]) n++;
        return n;
    }
}
