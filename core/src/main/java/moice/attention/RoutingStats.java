package moice.attention;

/**
 * Per layer, head and expert: how many positions selected the expert and the weights it got, summed over the
 * positions a {@link RoutingLog} holds. A summary of where MoICE sends each head's attention; the public API's
 * {@code RoutingCounts} carries it to users (and writes {@code forward --routing-stats}' CSV).
 */
public final class RoutingStats {
    private final int numLayers, numHeads, numExperts;
    private final int[] positions;
    private final long[] selected;
    private final double[] weightSum;

    private RoutingStats(RoutingLog log) {
        numLayers = log.numLayers();
        numHeads = log.numHeads();
        numExperts = log.numExperts();
        positions = new int[numLayers];
        selected = new long[numLayers * numHeads * numExperts];
        weightSum = new double[selected.length];
        for (int l = 0; l < numLayers; l++) {
            positions[l] = log.positions(l);
            for (int t = 0; t < positions[l]; t++)
                for (int h = 0; h < numHeads; h++) {
                    int[] e = log.experts(l, t, h);
                    float[] w = log.weights(l, t, h);
                    for (int r = 0; r < e.length; r++) {
                        selected[index(l, h, e[r])]++;
                        weightSum[index(l, h, e[r])] += w[r];
                    }
                }
        }
    }

    /** Statistics over everything {@code log} has recorded. */
    public static RoutingStats of(RoutingLog log) {
        return new RoutingStats(log);
    }

    private int index(int layer, int head, int expert) {
        return (layer * numHeads + head) * numExperts + expert;
    }

    /** Positions of {@code layer} counted. */
    public int positions(int layer) { return positions[layer]; }

    /** Positions at which {@code head} of {@code layer} selected {@code expert}. */
    public long selected(int layer, int head, int expert) { return selected[index(layer, head, expert)]; }

    /** Sum over the counted positions of the weight {@code head} of {@code layer} gave {@code expert} (0 where unselected). */
    public double weightSum(int layer, int head, int expert) { return weightSum[index(layer, head, expert)]; }
}
