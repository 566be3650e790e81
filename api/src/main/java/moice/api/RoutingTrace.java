package moice.api;

/**
 * Where MoICE sent the attention of one sequence, position by position: for every layer, position and head, the
 * experts (RoPE bases) the router selected, best first, and their renormalised weights. The per-position form of
 * {@link RoutingCounts} (counting {@link #expert} over positions and ranks gives {@code RoutingCounts.selected}). Read
 * with {@link Session#routingTrace()}.
 *
 * @param bases     the experts' RoPE bases, in expert order
 * @param topK      experts selected per position and head
 * @param numHeads  attention heads per layer
 * @param positions per layer, the positions recorded ({@code [0, positions[l])}, as {@link RoutingCounts#positions})
 * @param experts   per layer, {@code [position][head][rank]} flattened: expert indices, best first
 * @param weights   per layer, the same shape: the weights of those experts (each {@code [position][head]} sums to 1)
 */
public record RoutingTrace(double[] bases, int topK, int numHeads, int[] positions, int[][] experts,
                           float[][] weights) {
    public int numLayers() { return positions.length; }

    /** The expert of {@code rank} (0 = the router's first choice) at {@code layer}, {@code position}, {@code head}. */
    public int expert(int layer, int position, int head, int rank) {
        return experts[layer][index(layer, position, head, rank)];
    }

    /** The weight of {@link #expert}. */
    public float weight(int layer, int position, int head, int rank) {
        return weights[layer][index(layer, position, head, rank)];
    }

    private int index(int layer, int position, int head, int rank) {
        if (position < 0 || position >= positions[layer] || head < 0 || head >= numHeads || rank < 0 || rank >= topK)
            throw new IndexOutOfBoundsException("layer " + layer + " position " + position + " head " + head
                    + " rank " + rank);
        return (position * numHeads + head) * topK + rank;
    }
}
