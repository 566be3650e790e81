package moice.train;

import moice.attention.Routers;

/**
 * A deterministic stand-in for the model's objective whose gradient is known in closed form: every router weight
 * {@code w_i} (layers in order, gate_1, gate_2, gate_3, row-major) has a target {@code a_i} that depends on the
 * sequence, {@code ce = ½ Σ (w_i − a_i)²}, {@code aux = Σ w_i²}, so {@code ∂total/∂w_i = (w_i − a_i) + 2·auxCoef·w_i}.
 * Optionally sleeps per call (so that a test can kill a run mid-step) and returns NaN on one call.
 */
final class QuadraticObjective implements RouterObjective {
    private final long sleepMillis;
    private final int nanAtCall;
    private int calls;

    QuadraticObjective() {
        this(0, -1);
    }

    /** @param nanAtCall 0-based call that returns a NaN loss, or -1 */
    QuadraticObjective(long sleepMillis, int nanAtCall) {
        this.sleepMillis = sleepMillis;
        this.nanAtCall = nanAtCall;
    }

    static double target(int[] tokens, int i) {
        long h = 0;
        for (int t = 0; t < tokens.length; t++) h = h * 31 + tokens[t] * (t + 1L);
        return 0.05 * Math.sin(i * 0.37 + (h % 1000) / 100.0);
    }

    @Override
    public Loss evaluate(int[] tokens, boolean[] targets, Routers routers, double auxCoef, RouterGradients grads, float scale) {
        if (sleepMillis > 0) {
            try {
                Thread.sleep(sleepMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        int call = calls++;
        double ce = 0, aux = 0;
        int i = 0;
        for (int l = 0; l < routers.numLayers(); l++) {
            float[][] w = {routers.gate1()[l], routers.gate2()[l], routers.gate3()[l]};
            float[][] g = {grads.gate1()[l], grads.gate2()[l], grads.gate3()[l]};
            for (int k = 0; k < 3; k++) {
                for (int j = 0; j < w[k].length; j++, i++) {
                    double diff = w[k][j] - target(tokens, i);
                    ce += 0.5 * diff * diff;
                    aux += (double) w[k][j] * w[k][j];
                    g[k][j] += (float) (scale * (diff + 2 * auxCoef * w[k][j]));
                }
            }
        }
        if (call == nanAtCall) ce = Double.NaN;
        int count = targets == null ? tokens.length - 1 : new TokenSequence(tokens, targets).targetCount();
        return new Loss(ce + auxCoef * aux, ce, aux, count);
    }
}
