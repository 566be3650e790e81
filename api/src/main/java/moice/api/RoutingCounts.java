package moice.api;

/**
 * Where MoICE sent the attention of one sequence: per layer and head, how many positions selected each expert (RoPE
 * base). The same counts as the {@code selected} column of {@code bin/moice forward --routing-stats} (both come from
 * {@code moice.attention.RoutingStats}) for the positions the sequence ran. Read with {@link Session#routing()}.
 *
 * @param bases     the experts' RoPE bases, in expert order
 * @param topK      experts selected per position and head
 * @param positions per layer, the positions counted (a generation runs its prompt and every generated token fed
 *                  back: all but the last token sampled, which is the end-of-sequence token when the model ended)
 * @param selected  {@code [layer][head][expert]}: positions at which the head selected the expert; every
 *                  {@code selected[l][h]} sums to {@code positions[l] * topK}
 */
public record RoutingCounts(double[] bases, int topK, int[] positions, long[][][] selected) {
    public int numLayers() { return positions.length; }
}
