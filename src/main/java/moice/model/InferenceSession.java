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

    /** Opens sessions of a given capacity (a method bound to a model). */
    @FunctionalInterface
    interface Factory {
        InferenceSession open(int capacity);
    }

    /** A single model pass with {@code attention} over one KV cache. */
    static InferenceSession of(Model model, AttentionVariant attention, int capacity) {
        KVCache cache = model.newCache(capacity);
        return new InferenceSession() {
            @Override
            public float[] forward(int[] tokens, int logitsCount) {
                return model.forward(tokens, cache, attention, logitsCount);
            }

            @Override
            public int size() { return cache.size(); }

            @Override
            public int capacity() { return cache.capacity(); }
        };
    }

    /** Sessions of {@link #of} for one model and attention variant. */
    static Factory factory(Model model, AttentionVariant attention) {
        return capacity -> of(model, attention, capacity);
    }
}
