package moice.api;

import moice.model.KVCache;

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
 * @param prefillChunk  with {@code batchDecode}: prompts (blocks of several tokens) run on the same scheduler as the
 *                      decode steps, in chunks of at most this many tokens, one chunk after each decode batch, so
 *                      that a long prompt does not stall the sequences that decode meanwhile (chunked prefill). The
 *                      logits equal a one-shot prefill's within rounding (other block boundaries), not bit for bit.
 *                      Ms-PoE runs its prompt as one chunk (its head ranking is fixed on the whole first block).
 *                      0: prompts run whole, on the calling thread
 * @param kvCache       how the session's KV cache stores keys and values: {@link KVCache.Precision#F32} (exact, the
 *                      default) or {@link KVCache.Precision#F16} (half the memory, as llama.cpp's default cache; each
 *                      key and value rounded to half precision, so logits move by a little, see KVCache). Every method
 *                      runs on either
 */
public record SessionOptions(boolean recordRouting, boolean reusePrefix, boolean batchDecode, int prefillChunk,
                             KVCache.Precision kvCache) {
    /** Nothing recorded: what {@link Engine#session(moice.method.Method)} opens. */
    public static final SessionOptions DEFAULT = new SessionOptions(false, false, false, 0);

    public SessionOptions {
        if (prefillChunk < 0) throw new IllegalArgumentException("prefill chunk must be >= 0, got " + prefillChunk);
        java.util.Objects.requireNonNull(kvCache, "kvCache");
    }

    /** With a float32 KV cache. */
    public SessionOptions(boolean recordRouting, boolean reusePrefix, boolean batchDecode, int prefillChunk) {
        this(recordRouting, reusePrefix, batchDecode, prefillChunk, KVCache.Precision.F32);
    }

    /** Without chunked prefill, with a float32 KV cache. */
    public SessionOptions(boolean recordRouting, boolean reusePrefix, boolean batchDecode) {
        this(recordRouting, reusePrefix, batchDecode, 0);
    }

    /** Routing decisions recorded. */
    public static SessionOptions recordingRouting() {
        return new SessionOptions(true, false, false);
    }

    /** These options with prefix reuse on. */
    public SessionOptions withPrefixReuse() {
        return new SessionOptions(recordRouting, true, batchDecode, prefillChunk, kvCache);
    }

    /** These options with batched decoding on. */
    public SessionOptions withBatchedDecode() {
        return new SessionOptions(recordRouting, reusePrefix, true, prefillChunk, kvCache);
    }

    /** These options with prompts prefilled in chunks of {@code tokens} between decode batches (0: whole). */
    public SessionOptions withPrefillChunk(int tokens) {
        return new SessionOptions(recordRouting, reusePrefix, batchDecode, tokens, kvCache);
    }

    /** These options with the KV cache stored at {@code precision}. */
    public SessionOptions withKvCache(KVCache.Precision precision) {
        return new SessionOptions(recordRouting, reusePrefix, batchDecode, prefillChunk, precision);
    }
}
