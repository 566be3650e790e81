package moice.attention;

/**
 * RoPE frequency scaling as HF transformers defines it ({@code rope_scaling} / {@code rope_parameters}).
 *
 * @param type                    {@code default}, {@code linear}, {@code dynamic}, {@code llama3} or {@code yarn}
 * @param factor                  scaling factor (ignored for {@code default})
 * @param originalMaxPositions    pre-scaling context length (llama3, yarn, dynamic); 0 when not given
 * @param lowFreqFactor           llama3
 * @param highFreqFactor          llama3
 * @param betaFast                yarn (default 32)
 * @param betaSlow                yarn (default 1)
 * @param attentionFactor         yarn: multiplier of cos/sin; NaN means "derive from factor" as HF does
 * @param truncate                yarn: round the correction range to integers (HF default true)
 */
public record RopeScaling(
        String type,
        double factor,
        int originalMaxPositions,
        double lowFreqFactor,
        double highFreqFactor,
        double betaFast,
        double betaSlow,
        double attentionFactor,
        boolean truncate) {

    public static final RopeScaling NONE = new RopeScaling("default", 1, 0, 0, 0, 0, 0, Double.NaN, true);
}
