package moice.attention;

import java.util.Locale;

/**
 * Per layer, head and expert: how many positions selected the expert and the weights it got, summed over the
 * positions a {@link RoutingLog} holds. A summary of where MoICE sends each head's attention.
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

    /** Mean weight of the expert over all positions (0 where it was not selected). */
    public double meanWeight(int layer, int head, int expert) {
        return positions[layer] == 0 ? 0 : weightSum[index(layer, head, expert)] / positions[layer];
    }

    /** Mean weight of the expert over the positions that selected it (0 if none did). */
    public double meanWeightWhenSelected(int layer, int head, int expert) {
        long n = selected(layer, head, expert);
        return n == 0 ? 0 : weightSum[index(layer, head, expert)] / n;
    }

    /**
     * CSV with a header and one row per (layer, head, expert): {@code layer,head,expert,base,positions,selected,
     * selected_fraction,mean_weight,mean_weight_when_selected}.
     *
     * @param bases the experts' RoPE bases, in expert order
     */
    public String toCsv(double[] bases) {
        if (bases.length != numExperts) throw new IllegalArgumentException(bases.length + " bases for " + numExperts + " experts");
        StringBuilder sb = new StringBuilder("layer,head,expert,base,positions,selected,selected_fraction,mean_weight,"
                + "mean_weight_when_selected\n");
        for (int l = 0; l < numLayers; l++)
            for (int h = 0; h < numHeads; h++)
                for (int e = 0; e < numExperts; e++) {
                    long n = selected(l, h, e);
                    double fraction = positions[l] == 0 ? 0 : (double) n / positions[l];
                    sb.append(String.format(Locale.ROOT, "%d,%d,%d,%s,%d,%d,%.6f,%.6f,%.6f%n", l, h, e,
                            baseText(bases[e]), positions[l], n, fraction, meanWeight(l, h, e),
                            meanWeightWhenSelected(l, h, e)));
                }
        return sb.toString();
    }

    private static String baseText(double base) {
        return base == Math.rint(base) && Math.abs(base) < 1e15 ? Long.toString((long) base) : Double.toString(base);
    }
}
