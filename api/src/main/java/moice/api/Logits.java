package moice.api;

/**
 * Next-token logits of a block of tokens: row {@code t} holds the scores for the token after the block's {@code t}-th
 * token. {@code values} is row-major {@code [tokens, vocab]} float32, exactly what {@code bin/moice forward} writes; the
 * array is not copied (the caller owns it), so the record is only as immutable, and as safe to share between threads,
 * as the caller leaves it.
 */
public record Logits(int tokens, int vocab, float[] values) {
    public Logits {
        if ((long) tokens * vocab != values.length)
            throw new IllegalArgumentException(values.length + " values for [" + tokens + ", " + vocab + "]");
    }

    /** The logit of token id {@code v} after position {@code t}. */
    public float get(int t, int v) {
        return values[t * vocab + v];
    }

    /** A copy of row {@code t}. */
    public float[] row(int t) {
        return java.util.Arrays.copyOfRange(values, t * vocab, (t + 1) * vocab);
    }
}
