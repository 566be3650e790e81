package moice.api;

import java.nio.file.Path;

/**
 * Router-only MoICE training, as {@code bin/moice train-routers} takes it (see docs/cli.md and docs/method.md): the
 * model frozen, loss = mean next-token cross-entropy + auxCoef × load-balancing loss, AdamW, after every step the
 * routers ({@code out}) and the training state ({@code out.state}) written atomically. Immutable and thread-safe
 * (arrays are the caller's; do not change them while a run uses them).
 *
 * @param model         model path or pulled name
 * @param data          JSON Lines of {@code {"text"}} or {@code {"messages"}} records, or the OpenHermes JSON array
 * @param out           router checkpoint to write
 * @param init          start from these routers; null = fresh normal(0, 0.02) routers from {@code seed}
 * @param bases         absolute RoPE bases (or null, then {@code baseRatios}; both null only with {@code init})
 * @param baseRatios    bases as multiples of rope_theta
 * @param topK          experts per token and head; null only with {@code init} (keeps its K)
 * @param steps         optimizer steps
 * @param batch         sequences per step
 * @param lr            AdamW learning rate (constant after warm-up)
 * @param warmupSteps   linear warm-up steps (0 = none)
 * @param weightDecay   AdamW decoupled weight decay
 * @param maxLen        tokens per packed sequence
 * @param auxCoef       weight of the load-balancing loss
 * @param seed          router initialisation and data-order seed
 * @param lossOn        {@code all} tokens (official) or only {@code assistant} turns
 * @param maxDocuments  read only the first N documents; null = all
 * @param skipBadLines  skip malformed records instead of failing
 * @param resume        continue the run saved in {@code out.state}
 * @param log           per-step CSV log; null = none
 */
public record TrainOptions(String model, Path data, Path out, Path init, double[] bases, double[] baseRatios,
                           Integer topK, int steps, int batch, double lr, int warmupSteps, double weightDecay,
                           int maxLen, double auxCoef, long seed, String lossOn, Long maxDocuments,
                           boolean skipBadLines, boolean resume, Path log) {
    /**
     * The official recipe: bases rope_theta × 1, 1.75, 1.8, 1.9, 2, 2.25, 2.5, K = 7, 7 steps of 128 sequences of 4608
     * tokens, lr 1e-4, aux 0.3, loss on all tokens, seed 0.
     */
    public static TrainOptions official(String model, Path data, Path out) {
        return new TrainOptions(model, data, out, null, null, new double[]{1, 1.75, 1.8, 1.9, 2, 2.25, 2.5}, 7, 7, 128,
                1e-4, 0, 0, 4608, 0.3, 0, "all", null, false, false, null);
    }

    public TrainOptions withSteps(int n, int batchSize, int maxLength) {
        return new TrainOptions(model, data, out, init, bases, baseRatios, topK, n, batchSize, lr, warmupSteps,
                weightDecay, maxLength, auxCoef, seed, lossOn, maxDocuments, skipBadLines, resume, log);
    }

    public TrainOptions withExperts(double[] ratios, int k) {
        return new TrainOptions(model, data, out, init, null, ratios, k, steps, batch, lr, warmupSteps, weightDecay,
                maxLen, auxCoef, seed, lossOn, maxDocuments, skipBadLines, resume, log);
    }
}
