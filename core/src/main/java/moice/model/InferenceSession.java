package moice.model;

import moice.attention.AttentionVariant;

/**
 * One running sequence: feeds token blocks through a model (or an ensemble of model passes) and returns next-token
 * logits, holding whatever state the method needs (KV caches). Generation, {@code forward} and benchmarks run any
 * method through this.
 */
public interface InferenceSession {
    /**
     * Runs {@code tokens} at positions {@code [size(), size() + tokens.length)} and returns the logits of the last
     * {@code logitsCount} of them, {@code [logitsCount, vocab]} row-major.
     */
    float[] forward(int[] tokens, int logitsCount);

    /** Positions processed so far. */
    int size();

    /** Most positions this session can hold. */
    int capacity();

    /** Bytes its KV cache arrays hold now (all of them, for an ensemble of passes); what a memory budget counts. */
    long cacheBytes();

    /** {@link KVCache#limitGrowth} of every cache of this session. */
    void limitGrowth(int positions);

    /** {@link KVCache#reserve} of every cache of this session. */
    void reserve(int positions);

    /** Opens sessions of a given capacity (a method bound to a model). */
    @FunctionalInterface
    interface Factory {
        InferenceSession open(int capacity);
    }

    /** A single model pass with {@code attention} over one KV cache and one attention state of its own. */
    static Single of(Model model, AttentionVariant attention, int capacity) {
        return new Single(model, attention, capacity);
    }

    /**
     * Sessions of {@link #of} for one model and attention variant. The variant is shared (it is immutable); each
     * session owns its KV cache and attention state, so sessions may run concurrently on different threads.
     */
    static Factory factory(Model model, AttentionVariant attention) {
        return capacity -> of(model, attention, capacity);
    }

    /** One model pass: a KV cache and the attention variant's per-sequence state, both owned by this session. */
    final class Single implements InferenceSession {
        private final Model model;
        private final AttentionVariant attention;
        private final KVCache cache;
        private final AttentionVariant.State state;

        private Single(Model model, AttentionVariant attention, int capacity) {
            this.model = model;
            this.attention = attention;
            this.cache = model.newCache(capacity);
            this.state = attention.newState();
        }

        private volatile DecodeBatcher batcher;
        private volatile int prefillChunk;
        private volatile java.util.function.BooleanSupplier cancelled = () -> false;

        /**
         * {@code c} is asked before each chunk of a prefill that runs on a decode batcher (see
         * {@link #decodeWith(DecodeBatcher, int)}), and before any block: once it answers true, {@link #forward}
         * throws {@link java.util.concurrent.CancellationException}, leaving the positions already run in the cache.
         */
        public void cancelWhen(java.util.function.BooleanSupplier c) {
            cancelled = java.util.Objects.requireNonNull(c);
        }

        /**
         * From now on, single-token steps run through {@code b} (batched with other sequences' steps, same logits);
         * null: alone again. The batcher must belong to this session's model.
         */
        public void decodeWith(DecodeBatcher b) {
            decodeWith(b, 0);
        }

        /**
         * As {@link #decodeWith(DecodeBatcher)}; with {@code prefillChunk} &gt; 0, blocks of several tokens (prompts)
         * also run on {@code b}'s scheduler, in chunks of at most that many tokens between its decode batches
         * ({@link DecodeBatcher#prefill}: the same logits within rounding). 0: blocks run on the calling thread, whole.
         */
        public void decodeWith(DecodeBatcher b, int prefillChunk) {
            // the same weights is what batching needs; the caches, whatever their precision, belong to the sequences
            if (b != null && b.model().weights() != model.weights())
                throw new IllegalArgumentException("a decode batcher of another model");
            if (prefillChunk < 0) throw new IllegalArgumentException("prefill chunk " + prefillChunk);
            batcher = b;
            this.prefillChunk = prefillChunk;
        }

        @Override
        public float[] forward(int[] tokens, int logitsCount) {
            java.util.function.BooleanSupplier c = cancelled;
            if (c.getAsBoolean())
                throw new java.util.concurrent.CancellationException("cancelled at position " + cache.size());
            DecodeBatcher b = batcher;
            if (b != null && tokens.length == 1 && logitsCount == 1) return b.step(tokens[0], cache, attention, state);
            int chunk = prefillChunk;
            if (b != null && chunk > 0 && tokens.length > 1)
                return b.prefill(tokens, chunk, cache, attention, state, logitsCount, c);
            return model.forward(tokens, cache, attention, state, logitsCount);
        }

        @Override
        public long cacheBytes() { return cache.bytes(); }

        @Override
        public void limitGrowth(int positions) { cache.limitGrowth(positions); }

        @Override
        public void reserve(int positions) { cache.reserve(positions); }

        @Override
        public int size() { return cache.size(); }

        @Override
        public int capacity() { return cache.capacity(); }

        /**
         * Forgets positions from {@code size} on, so that a new sequence sharing the first {@code size} tokens can go
         * on from there. Only for attention whose state at a position depends on earlier positions alone (vanilla,
         * MoICE: their per-sequence state is rebuilt or overwritten from there on); not Ms-PoE, whose head ratios
         * come from the whole first block.
         */
        public void truncate(int size) { cache.truncate(size); }

        /** This sequence's attention state (e.g. MoICE's routing log, Ms-PoE's head ratios). */
        public AttentionVariant.State attentionState() { return state; }
    }
}
