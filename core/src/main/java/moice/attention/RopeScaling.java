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
 * @param attentionFactor         yarn: multiplier of cos/sin; NaN means "derive" as HF does, see
 *                                {@link #yarnAttentionFactor()} ({@code moice.io.HfConfig} always settles it)
 * @param truncate                yarn: round the correction range to integers (HF default true)
 * @param mscale                  yarn: {@code mscale} when given, else 0 (HF treats 0 and absent alike)
 * @param mscaleAllDim            yarn: {@code mscale_all_dim} when given, else 0
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
        boolean truncate,
        double mscale,
        double mscaleAllDim) {

    public static final RopeScaling NONE = new RopeScaling("default", 1, 0, 0, 0, 0, 0, Double.NaN, true);

    /** The original nine-field form, without yarn's mscale parameters. */
    public RopeScaling(String type, double factor, int originalMaxPositions, double lowFreqFactor,
                       double highFreqFactor, double betaFast, double betaSlow, double attentionFactor,
                       boolean truncate) {
        this(type, factor, originalMaxPositions, lowFreqFactor, highFreqFactor, betaFast, betaSlow, attentionFactor,
                truncate, 0, 0);
    }

    /**
     * The yarn cos/sin multiplier, as HF's {@code _compute_yarn_parameters} settles it: the explicit
     * {@code attention_factor} when given; else, when both mscale and mscale_all_dim are non-zero,
     * {@code m(factor, mscale) / m(factor, mscale_all_dim)}; else {@code m(factor, 1)}, with
     * {@code m(s, k) = s <= 1 ? 1 : 0.1·k·ln(s) + 1}.
     */
    public double yarnAttentionFactor() {
        if (!Double.isNaN(attentionFactor)) return attentionFactor;
        if (mscale != 0 && mscaleAllDim != 0) return yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
        return yarnMscale(factor, 1);
    }

    private static double yarnMscale(double scale, double k) {
        return scale <= 1 ? 1.0 : 0.1 * k * Math.log(scale) + 1.0;
    }
}
