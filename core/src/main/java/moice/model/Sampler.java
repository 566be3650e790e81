package moice.model;

import java.util.Arrays;
import java.util.Random;

/**
 * Picks the next token from logits: greedy at temperature 0, otherwise softmax(logits / T) restricted to the top-k
 * tokens and then to the smallest set whose probability reaches top-p (HF's order: temperature, top-k, top-p).
 * Deterministic for a given seed.
 */
public final class Sampler {
    private final float temperature;
    private final int topK;
    private final float topP;
    private final Random random;

    /**
     * @param temperature 0 for greedy, else &gt; 0
     * @param topK        0 for no limit
     * @param topP        1 for no limit, else in (0, 1]
     */
    public Sampler(float temperature, int topK, float topP, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature))
            throw new moice.MoiceException("--temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new moice.MoiceException("--top-k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new moice.MoiceException("--top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new Random(seed);
    }

    /** Index of the largest logit (the first one on ties, as torch.argmax). */
    public static int argmax(float[] logits, int off, int n) {
        int best = 0;
        float bestValue = logits[off];
        for (int i = 1; i < n; i++)
            if (logits[off + i] > bestValue) {
                bestValue = logits[off + i];
                best = i;
            }
        return best;
    }

    /** Samples from {@code logits[off .. off+n)}. */
    public int sample(float[] logits, int off, int n) {
        if (temperature == 0f) return argmax(logits, off, n);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(logits[off + b], logits[off + a]));
        int keep = topK > 0 ? Math.min(topK, n) : n;
        double max = logits[off + order[0]];
        double[] p = new double[keep];
        double total = 0;
        for (int i = 0; i < keep; i++) total += p[i] = StrictMath.exp((logits[off + order[i]] - max) / temperature);
        int cut = keep;
        if (topP < 1f) {
            double cumulative = 0;
            for (int i = 0; i < keep; i++) {
                cumulative += p[i] / total;
                if (cumulative >= topP) {
                    cut = i + 1;
                    break;
                }
            }
        }
        double mass = 0;
        for (int i = 0; i < cut; i++) mass += p[i];
        double r = random.nextDouble() * mass;
        for (int i = 0; i < cut; i++) {
            r -= p[i];
            if (r <= 0) return order[i];
        }
        return order[cut - 1];
    }
}
