package moice.api;

/**
 * Per-session switches that change what a {@link Session} keeps, not what it computes. Immutable.
 *
 * @param recordRouting keep the routing decisions of MoICE-family methods (moice, equal, random) so that
 *                      {@link Session#routing()} can report them; costs memory per position (K experts, K weights and
 *                      N router logits per layer, position and head); ignored by the other methods
 * @param reusePrefix   keep the KV cache of the last generation, so that the next one whose prompt starts with the
 *                      same tokens (the next turn of a conversation) runs only the rest of its prompt
 *                      ({@link Session#reusedPrefix()} says how many were reused); vanilla and the MoICE family only
 *                      (Ms-PoE and Attention Buckets always start afresh). The cache then keeps the last sequence,
 *                      up to the context (it grows by doubling as the sequence does)
 * @param batchDecode   run this session's decode steps together with those of other sessions of the engine that
 *                      decode at the same time (continuous batching, {@code moice.model.DecodeBatcher}): one pass over
 *                      the weights for all of them; each gets exactly the logits it gets alone. All methods but
 *                      Attention Buckets (whose passes are an ensemble)
 */
public record SessionOptions(boolean recordRouting, boolean reusePrefix, boolean batchDecode) {
    /** Nothing recorded: what {@link Engine#session(moice.method.Method)} opens. */
    public static final SessionOptions DEFAULT = new SessionOptions(false, false, false);

    /** Routing decisions recorded. */
    public static SessionOptions recordingRouting() {
        return new SessionOptions(true, false, false);
    }

    /** These options with prefix reuse on. */
    public SessionOptions withPrefixReuse() {
        return new SessionOptions(recordRouting, true, batchDecode);
    }

    /** These options with batched decoding on. */
    public SessionOptions withBatchedDecode() {
        return new SessionOptions(recordRouting, reusePrefix, true);
    }
}
