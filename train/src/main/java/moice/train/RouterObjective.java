package moice.train;

import moice.attention.Routers;

/**
 * The training objective of MoICE routers on one token sequence (docs/method.md, "Training the routers"):
 * {@code loss = CE + auxCoef · L_aux}, where CE is the mean next-token cross-entropy over the target positions and
 * {@code L_aux} the load-balancing loss over every (layer, token, head) routing event of the sequence.
 *
 * <p>Implementations run the frozen model forward with MoICE attention using {@code routers}, then backward, and
 * <b>add</b> {@code scale ·} ∂loss/∂gates into {@code grads} (so a batch accumulates with {@code scale = 1/batch}).
 */
public interface RouterObjective {

    /**
     * @param tokens  the sequence, at least 2 tokens
     * @param targets {@code targets[t]} true when token {@code t} (t ≥ 1) is predicted from position {@code t-1} and
     *                counts in the CE; {@code null} means every token from index 1 on. {@code targets[0]} is ignored.
     * @param routers current router weights (read only)
     * @param auxCoef weight of the load-balancing loss (official 0.3; 0 switches it off)
     * @param grads   accumulator shaped like {@code routers}
     * @param scale   factor applied to the gradient before it is added
     * @return the loss parts of this sequence (unscaled)
     */
    Loss evaluate(int[] tokens, boolean[] targets, Routers routers, double auxCoef, RouterGradients grads, float scale);

    /**
     * @param total   {@code ce + auxCoef · aux}
     * @param ce      mean cross-entropy over {@code targetCount} targets
     * @param aux     load-balancing loss {@code L_aux} (N when K = N)
     * @param targetCount number of predicted tokens in the CE
     */
    record Loss(double total, double ce, double aux, int targetCount) {}
}
