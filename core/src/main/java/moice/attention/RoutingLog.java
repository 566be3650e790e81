package moice.attention;

import java.util.Arrays;

/**
 * The routing decisions MoICE made, per layer, position and head: the selected experts (best first, by descending
 * router logit), their renormalised weights in the same order, and all N router logits. Filled by
 * {@link MoiceAttention} as blocks run; a position that is run again (a new prompt in a reused cache) overwrites its
 * entry. Not thread-safe: one forward pass at a time, as the model itself.
 */
public final class RoutingLog {
    private final int numHeads, numExperts, topK;
    private final int[][] experts;
    private final float[][] weights, logits;
    private final int[] positions;

    public RoutingLog(int numLayers, int numHeads, int numExperts, int topK) {
        this.numHeads = numHeads;
        this.numExperts = numExperts;
        this.topK = topK;
        experts = new int[numLayers][0];
        weights = new float[numLayers][0];
        logits = new float[numLayers][0];
        positions = new int[numLayers];
    }

    /** Stores the decisions of tokens at positions {@code [start, start+T)}: arrays {@code [T, heads, K]} / {@code [T, heads, N]}. */
    void record(int layer, int start, int T, int[] blockExperts, float[] blockWeights, float[] blockLogits) {
        int end = start + T, hk = numHeads * topK, hn = numHeads * numExperts;
        if (experts[layer].length < end * hk) {
            int cap = Math.max(end, 2 * experts[layer].length / hk);
            experts[layer] = Arrays.copyOf(experts[layer], cap * hk);
            weights[layer] = Arrays.copyOf(weights[layer], cap * hk);
            logits[layer] = Arrays.copyOf(logits[layer], cap * hn);
        }
        System.arraycopy(blockExperts, 0, experts[layer], start * hk, T * hk);
        System.arraycopy(blockWeights, 0, weights[layer], start * hk, T * hk);
        System.arraycopy(blockLogits, 0, logits[layer], start * hn, T * hn);
        positions[layer] = end;
    }

    public int numLayers() { return positions.length; }

    public int numHeads() { return numHeads; }

    public int numExperts() { return numExperts; }

    public int topK() { return topK; }

    /** Positions recorded for {@code layer}: {@code [0, positions(layer))}. */
    public int positions(int layer) { return positions[layer]; }

    /** Selected experts (indices into the bases), best first. */
    public int[] experts(int layer, int pos, int head) {
        int o = check(layer, pos, head) * topK;
        return Arrays.copyOfRange(experts[layer], o, o + topK);
    }

    /** Renormalised weights of {@link #experts}, same order; they sum to 1. */
    public float[] weights(int layer, int pos, int head) {
        int o = check(layer, pos, head) * topK;
        return Arrays.copyOfRange(weights[layer], o, o + topK);
    }

    /** All N router logits z. */
    public float[] routerLogits(int layer, int pos, int head) {
        int o = check(layer, pos, head) * numExperts;
        return Arrays.copyOfRange(logits[layer], o, o + numExperts);
    }

    /** {@code [layer][expert]}: how many (position, head) events selected each expert, over all recorded positions. */
    public long[][] selectionCounts() {
        long[][] counts = new long[positions.length][numExperts];
        for (int l = 0; l < positions.length; l++)
            for (int i = 0; i < positions[l] * numHeads * topK; i++) counts[l][experts[l][i]]++;
        return counts;
    }

    private int check(int layer, int pos, int head) {
        if (pos < 0 || pos >= positions[layer] || head < 0 || head >= numHeads)
            throw new IndexOutOfBoundsException("layer " + layer + " position " + pos + " head " + head);
        return pos * numHeads + head;
    }
}
