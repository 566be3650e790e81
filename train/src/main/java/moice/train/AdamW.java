package moice.train;

import moice.attention.Routers;

/**
 * AdamW over router weights, as {@code torch.optim.AdamW} (decoupled weight decay, bias-corrected moments,
 * {@code amsgrad=False}): for step {@code t = 1, 2, ...} and learning rate {@code lr_t},
 * <pre>
 *   w ← w · (1 − lr_t · λ)
 *   m ← β1 · m + (1 − β1) · g          v ← β2 · v + (1 − β2) · g²
 *   w ← w − (lr_t / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 * </pre>
 * Each element is computed in double and stored in float32 (weights and moments are float32, as in torch).
 * The learning rate is constant after an optional linear warm-up: {@code lr_t = lr · min(1, t / warmupSteps)}, so the
 * first step already moves (HF's {@code get_constant_schedule_with_warmup} counts from 0 and spends its first step at
 * lr 0; with no warm-up both are the plain constant lr).
 *
 * <p>The moments live in {@link RouterGradients}-shaped arrays so that a checkpoint can save and restore them exactly.
 */
public final class AdamW {

    /**
     * @param lr          peak learning rate (official 1e-4)
     * @param beta1       first-moment decay (0.9)
     * @param beta2       second-moment decay (0.999)
     * @param eps         added to the denominator (1e-8)
     * @param weightDecay decoupled weight decay λ (official 0)
     * @param warmupSteps steps of linear warm-up (0: none)
     */
    public record Settings(double lr, double beta1, double beta2, double eps, double weightDecay, int warmupSteps) {
        public Settings {
            if (!(lr > 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr " + lr);
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("betas");
            if (!(eps >= 0) || !(weightDecay >= 0) || Double.isInfinite(weightDecay) || warmupSteps < 0)
                throw new IllegalArgumentException("eps, weight decay or warm-up");
        }

        /** torch defaults (β 0.9/0.999, ε 1e-8) with the given lr, no weight decay and no warm-up. */
        public static Settings of(double lr) {
            return new Settings(lr, 0.9, 0.999, 1e-8, 0, 0);
        }

        /** The learning rate of step {@code t} (1-based). */
        public double learningRate(int t) {
            return warmupSteps == 0 || t >= warmupSteps ? lr : lr * t / warmupSteps;
        }
    }

    private final Settings settings;
    private final RouterGradients m;
    private final RouterGradients v;
    private int step;

    /** A fresh optimizer (zero moments, no step taken) for parameters shaped like {@code routers}. */
    public AdamW(Settings settings, Routers routers) {
        this(settings, RouterGradients.zerosLike(routers), RouterGradients.zerosLike(routers), 0);
    }

    /** An optimizer resumed after {@code stepsTaken} steps with the saved moments (used as they are, not copied). */
    public AdamW(Settings settings, RouterGradients m, RouterGradients v, int stepsTaken) {
        if (stepsTaken < 0) throw new IllegalArgumentException("steps " + stepsTaken);
        this.settings = settings;
        this.m = m;
        this.v = v;
        this.step = stepsTaken;
    }

    public Settings settings() { return settings; }

    /** First moments (read only). */
    public RouterGradients firstMoments() { return m; }

    /** Second moments (read only). */
    public RouterGradients secondMoments() { return v; }

    /** Steps taken so far. */
    public int stepsTaken() { return step; }

    /**
     * Takes one step: updates the gate arrays of {@code routers} in place from {@code grads}.
     *
     * @return the learning rate used
     */
    public double step(Routers routers, RouterGradients grads) {
        step++;
        double lr = settings.learningRate(step);
        double decay = 1 - lr * settings.weightDecay;
        double bc1 = 1 - StrictMath.pow(settings.beta1, step);
        double bc2Sqrt = Math.sqrt(1 - StrictMath.pow(settings.beta2, step));
        double stepSize = lr / bc1;
        for (int l = 0; l < routers.numLayers(); l++) {
            update(routers.gate1()[l], grads.gate1()[l], m.gate1()[l], v.gate1()[l], decay, stepSize, bc2Sqrt);
            update(routers.gate2()[l], grads.gate2()[l], m.gate2()[l], v.gate2()[l], decay, stepSize, bc2Sqrt);
            update(routers.gate3()[l], grads.gate3()[l], m.gate3()[l], v.gate3()[l], decay, stepSize, bc2Sqrt);
        }
        return lr;
    }

    private void update(float[] w, float[] g, float[] m1, float[] m2, double decay, double stepSize, double bc2Sqrt) {
        double b1 = settings.beta1, b2 = settings.beta2, eps = settings.eps;
        for (int i = 0; i < w.length; i++) {
            double gi = g[i];
            // moments are rounded to float32 before use, as torch keeps them
            float mi = (float) (b1 * m1[i] + (1 - b1) * gi);
            float vi = (float) (b2 * m2[i] + (1 - b2) * gi * gi);
            m1[i] = mi;
            m2[i] = vi;
            w[i] = (float) (w[i] * decay - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps));
        }
    }
}
