package moice.attention;

/**
 * What attention code needs to know about a model's heads.
 *
 * @param numHeads      query heads
 * @param numKvHeads    key/value heads
 * @param headDim       per-head width
 * @param slidingWindow a query at position p sees keys at positions {@code > p - slidingWindow}; 0 = unlimited
 * @param layout        RoPE pair layout of the loaded Q/K weights
 */
public record AttentionShape(int numHeads, int numKvHeads, int headDim, int slidingWindow, RopeLayout layout) {
    public int qDim() { return numHeads * headDim; }

    public int kvDim() { return numKvHeads * headDim; }

    public int groupSize() { return numHeads / numKvHeads; }

    /** First key position visible from a query at {@code pos}. */
    public int firstVisible(int pos) {
        return slidingWindow > 0 ? Math.max(0, pos - slidingWindow + 1) : 0;
    }
}
