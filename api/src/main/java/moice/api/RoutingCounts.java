package moice.api;

import java.util.Locale;

/**
 * Where MoICE sent the attention of one sequence: per layer and head, how many positions selected each expert (RoPE
 * base) and the weights it got. Read with {@link Session#routing()}; {@link #toCsv()} is what
 * {@code bin/moice forward --routing-stats} writes.
 *
 * @param bases      the experts' RoPE bases, in expert order
 * @param topK       experts selected per position and head
 * @param positions  per layer, the positions counted (a generation runs its prompt and every generated token fed
 *                   back: all but the last token sampled, which is the end-of-sequence token when the model ended)
 * @param selected   {@code [layer][head][expert]}: positions at which the head selected the expert; every
 *                   {@code selected[l][h]} sums to {@code positions[l] * topK}
 * @param weightSums {@code [layer][head][expert]}: the expert's routing weights summed over the positions that selected
 *                   it (double sums of the float weights, in position order)
 */
public record RoutingCounts(double[] bases, int topK, int[] positions, long[][][] selected, double[][][] weightSums) {
    public int numLayers() { return positions.length; }

    /** Mean weight of the expert over all positions of the layer (0 where it was not selected). */
    public double meanWeight(int layer, int head, int expert) {
        return positions[layer] == 0 ? 0 : weightSums[layer][head][expert] / positions[layer];
    }

    /** Mean weight of the expert over the positions that selected it (0 if none did). */
    public double meanWeightWhenSelected(int layer, int head, int expert) {
        long n = selected[layer][head][expert];
        return n == 0 ? 0 : weightSums[layer][head][expert] / n;
    }

    /**
     * CSV with a header and one row per (layer, head, expert): {@code layer,head,expert,base,positions,selected,
     * selected_fraction,mean_weight,mean_weight_when_selected} (fractions and weights with 6 decimals).
     */
    public String toCsv() {
        StringBuilder sb = new StringBuilder("layer,head,expert,base,positions,selected,selected_fraction,mean_weight,"
                + "mean_weight_when_selected\n");
        for (int l = 0; l < numLayers(); l++)
            for (int h = 0; h < selected[l].length; h++)
                for (int e = 0; e < bases.length; e++) {
                    long n = selected[l][h][e];
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
