package moice;

import moice.model.ModelConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The error model behind every numerical tolerance of the suite, written once. No bound here is fitted to what one
 * machine printed: each follows from float32's unit roundoff, the sizes of the computation and a stated rule, so it
 * holds on every vector width the JVM picks (8 or 16 float lanes regroup every sum).
 *
 * <ul>
 *   <li><b>One sum or dot product</b> of n terms in float32, in any order: {@code |fl(s) − s| ≤ γ(n)·Σ|terms|},
 *       {@code γ(n) = n·u/(1 − n·u)} (Higham, <i>Accuracy and Stability of Numerical Algorithms</i>, 2nd ed., §3.1).
 *       Two orders differ by at most twice that. Used where a kernel is compared with its scalar twin.</li>
 *   <li><b>A whole forward pass</b> (logits, or anything computed inside it such as router logits) compared with an
 *       independent float32 evaluation of the same model (HF transformers, or this engine by another path: decode
 *       instead of prefill, another kernel): the two differ only by rounding. Each stage — a normalisation, a
 *       projection, attention scores, their softmax, the weighted values, the MLP's gate/up, its activation, its
 *       down projection — contributes a relative error of at most the probabilistic dot-product bound
 *       {@code λ·√n·u} (Higham &amp; Mary, SIAM J. Sci. Comput. 41(5), 2019, Thm 3.1: it holds with probability
 *       at least {@code 1 − 2n·exp(−λ²/2)}; λ = 10 makes that {@code 1 − 10^-18} for the sizes here), n the longest
 *       inner dimension of the model (hidden, intermediate, head dimension, or the sequence in attention's value
 *       sum). Stage errors add: {@link #STAGES_PER_LAYER} per layer plus two (final norm, output projection),
 *       measured against the largest magnitude of the reference, which the normalisations keep at the scale of the
 *       outputs. Result: {@link #forwardPass}.</li>
 *   <li><b>Softmax weights</b> (router weights, bucket weights) from logits that differ by at most δ: every weight
 *       {@code w_i = e^{z_i}/Σ e^{z_j}} moves by a factor within {@code [e^{−2δ}, e^{2δ}]}, so
 *       {@code |Δw_i| ≤ w_i·(e^{2δ} − 1)}, plus one float32 rounding of each side ({@link #softmaxWeight}).</li>
 * </ul>
 */
public final class Bounds {
    /** float32 unit roundoff, 2^-24. */
    public static final double U = 0x1p-24;
    /** Probabilistic rounding-error parameter (see the class comment). */
    public static final double LAMBDA = 10;
    /** Rounding stages per decoder layer: 2 norms, q/k/v, scores, softmax, values, o_proj, gate/up, activation, down. */
    public static final int STAGES_PER_LAYER = 10;

    private Bounds() {}

    /** Deterministic bound of an n-term float32 sum, {@code n·u/(1 − n·u)}. */
    public static double gamma(int n) {
        return n * U / (1 - n * U);
    }

    /** Deterministic bound of an n-term double sum, {@code n·2^-53/(1 − n·2^-53)}. */
    public static double gammaDouble(int n) {
        double u = 0x1p-53;
        return n * u / (1 - n * u);
    }

    /**
     * Largest difference between two float32 results of one double sum of {@code n} terms taken in two orders, then
     * rounded to float once (the batch gradient of router training, locally and on a cluster): each double sum is off
     * the exact one by at most {@code γ_double(n − 1)·Σ|terms|}, and rounding to nearest is monotone, so the two
     * floats differ by at most twice that plus one float32 ulp of the result.
     */
    public static double reorderedDoubleSum(int n, double sumAbs, double value) {
        return 2 * gammaDouble(Math.max(n - 1, 0)) * sumAbs + Math.ulp((float) Math.abs(value)) * 1.0000001;
    }

    /** Probabilistic bound of an n-term float32 dot product, {@code λ·√n·u}. */
    public static double gammaProbabilistic(int n) {
        return LAMBDA * Math.sqrt(n) * U;
    }

    /**
     * Largest {@code max|Δ|/max|ref|} between two float32 evaluations of {@code config}'s model on {@code tokens}
     * positions that differ only by rounding (see the class comment).
     */
    public static double forwardPass(ModelConfig config, int tokens) {
        int n = Math.max(Math.max(config.hiddenSize(), config.intermediateSize()),
                Math.max(config.numHeads() * config.headDim(), tokens));
        return (STAGES_PER_LAYER * config.numLayers() + 2) * gammaProbabilistic(n);
    }

    /** {@link #forwardPass(ModelConfig, int)} for the HF model directory {@code dir} on the ids of {@code tokensJson}. */
    public static double forwardPass(java.nio.file.Path dir, java.nio.file.Path tokensJson) {
        return forwardPass(moice.io.HfConfig.load(dir.resolve("config.json")), moice.io.TokenIds.read(tokensJson).length);
    }

    /**
     * Largest per-element difference between two float32 evaluations of causal attention with RoPE
     * ({@code softmax(scale·q'·k')·V}) over at most {@code keys} positions, head dimension {@code d}:
     * {@code maxScore} bounds {@code scale·|q|₂·|k|₂} over the query/key pairs (rotation keeps the 2-norm), so each
     * score is off by at most {@code 2(γ(d) + 6u)·maxScore} (the dot in two orders, the rotations and the scale);
     * the probabilities then by the factor {@code e^{2δ}} ({@link #softmaxWeight}), and the weighted sum of values
     * (at most {@code maxV} in size) by {@code γ(keys)} on each side.
     */
    public static double attentionOutput(int d, int keys, double maxScore, double maxV) {
        double scoreError = 2 * (gamma(d) + 6 * U) * maxScore;
        return maxV * (Math.expm1(2 * scoreError) + 2 * gamma(keys) + 4 * U);
    }

    /** Largest 2-norm of the {@code d}-vectors of {@code x} (rows of a {@code [*, d]} array). */
    public static double maxNorm(float[] x, int d) {
        double max = 0;
        for (int o = 0; o + d <= x.length; o += d) {
            double s = 0;
            for (int c = 0; c < d; c++) s += (double) x[o + c] * x[o + c];
            max = Math.max(max, Math.sqrt(s));
        }
        return max;
    }

    /** Largest absolute value of {@code x}. */
    public static double maxAbs(float[] x) {
        double max = 0;
        for (float v : x) max = Math.max(max, Math.abs(v));
        return max;
    }

    /** Largest change of a softmax weight {@code w} when every logit moves by at most {@code delta}, with rounding. */
    public static double softmaxWeight(double w, double delta) {
        return w * Math.expm1(2 * delta) + 2 * U;
    }

    /**
     * Whether the top-{@code k} experts of router logits {@code z}, in order, are decided when every logit may be off
     * by up to {@code delta}: each of the first k ranks leads the next by more than {@code 2·delta}. Away from such
     * near-ties two correct evaluations must choose the same experts; at a near-tie either choice is correct.
     */
    public static boolean topKDecided(double[] z, int k, double delta) {
        double[] sorted = z.clone();
        java.util.Arrays.sort(sorted);
        int n = sorted.length;
        for (int r = 0; r < Math.min(k, n - 1); r++)
            if (sorted[n - 1 - r] - sorted[n - 2 - r] <= 2 * delta) return false;
        return true;
    }

    /**
     * Largest difference of a log-softmax entry (a token's log-probability) when every logit may be off by at most
     * {@code relative·maxAbsLogit}: {@code log p_i = z_i − logsumexp(z)} moves by at most twice that.
     */
    public static double logProb(double relative, double maxAbsLogit) {
        return 2 * relative * maxAbsLogit;
    }

    /** {@code max|expected − actual| / max|expected|}. */
    public static double relativeMaxError(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "lengths");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        return maxDiff / maxRef;
    }

    /** Asserts {@code relativeMaxError(expected, actual) ≤ bound}, printing both (the suite's log shows the margin). */
    public static void assertWithin(float[] expected, float[] actual, double bound, String what) {
        double rel = relativeMaxError(expected, actual);
        System.out.printf("%s: max|Δ|/max|ref| = %.2e (bound %.2e)%n", what, rel, bound);
        assertTrue(rel <= bound, what + ": relative max error " + rel + " above the bound " + bound);
    }

    /** Asserts bit-identical float arrays (the same computation, or one that must not change any rounding). */
    public static void assertSameBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": lengths");
        for (int i = 0; i < expected.length; i++)
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i]))
                throw new AssertionError(what + ": first difference at " + i + ": " + expected[i] + " vs " + actual[i]);
    }
}
