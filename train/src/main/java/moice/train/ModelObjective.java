package moice.train;

import moice.MoiceException;
import moice.attention.Routers;
import moice.model.KVCache;
import moice.model.Model;
import moice.model.ModelConfig;
import moice.model.Weights;
import moice.tensor.Matrix;
import moice.tensor.Parallel;
import moice.tensor.VectorKernels;

/**
 * The router-training objective on a frozen {@link Model}: forward with MoICE attention, cross-entropy, and backward
 * through the whole network (activation gradients only; the model's weights get none) to the routers of every
 * layer.
 *
 * <p>Memory: the residual stream entering each layer is kept ({@code (layers + 1) · T · hidden} floats). Backward
 * needs each layer's queries, post-attention stream, gate and up projections, and per (token, head, chosen expert)
 * the attention output and log-sum-exp (nothing quadratic in T). Those are kept for every layer when they fit in a
 * third of the heap (fastest); otherwise each layer is run forward once more in backward by the model's own layer
 * code ({@link Model#layer}), so memory stays one layer's working set beyond the kept inputs. Transposed float32
 * copies of the weights are made on first use (see {@link TransposedWeights}).
 *
 * <p>One call at a time per instance; results are independent of the thread count.
 */
public final class ModelObjective implements RouterObjective {
    /** Rows of logits formed at once in the cross-entropy, bounding its memory to this many vocabulary rows. */
    private static final int LOGIT_ROWS = 256;
    /** Exponentials summed in float at a time in the cross-entropy (then added in double). */
    private static final int EXP_PIECE = 512;

    private final Model model;
    private final ModelConfig config;
    private final TransposedWeights transposed = new TransposedWeights();
    private long[] lastChoiceCounts = new long[0];
    private Boolean keepActivations;

    public ModelObjective(Model model) {
        this.model = model;
        this.config = model.config();
    }

    public Model model() { return model; }

    /**
     * See {@link RouterObjective#evaluate}. With {@code routers == null} the model runs with its own attention and
     * the backward pass still runs through every layer (nothing is trained; {@code grads} is untouched) — the vanilla
     * cost that training benchmarks compare against.
     */
    @Override
    public Loss evaluate(int[] tokens, boolean[] targets, Routers routers, double auxCoef, RouterGradients grads,
                         float scale) {
        int T = tokens.length, H = config.hiddenSize(), L = config.numLayers();
        check(tokens, targets, routers, grads);
        boolean keep = keepActivations(T, routers);
        AttentionGrad attention = new AttentionGrad(config, model.attentionShape(), routers, T, keep);
        LayerBackward.Saved[] saved = new LayerBackward.Saved[L];

        // forward, keeping each layer's input
        float[][] inputs = new float[L + 1][];
        float[] x = new float[T * H];
        for (int t = 0; t < T; t++) model.weights().embed().row(tokens[t], x, t * H);
        Model.LayerBuffers buf = new Model.LayerBuffers(config, T);
        KVCache cache = model.newCache(T);
        attention.countRouting(true);
        for (int l = 0; l < L; l++) {
            inputs[l] = x.clone();
            model.layer(l, x, T, 0, cache, attention, attention.newState(), buf);
            if (keep) saved[l] = LayerBackward.Saved.copy(buf, T, config);
        }
        attention.countRouting(false);
        lastChoiceCounts = attention.choiceCounts();
        inputs[L] = x;

        // loss and its gradient at the last hidden state
        int count = 0;
        for (int t = 1; t < T; t++) if (targets == null || targets[t]) count++;
        float[] dx = new float[T * H];
        double ce = crossEntropy(tokens, targets, count, inputs[L], scale / count, dx);
        double aux = routers == null ? 0 : attention.auxLoss();
        double[] auxGrad = null;
        if (routers != null && auxCoef != 0 && routers.topK() < routers.numExperts()) {
            // ∂(N · Σ_k Σ_n f[k][n] · Pbar[n]) / ∂P[e][n] = N · Σ_k f[k][n] / E, f held constant
            int n = routers.numExperts();
            long events = attention.events();
            auxGrad = new double[n];
            long[] counts = attention.choiceCountsPerExpert();
            for (int j = 0; j < n; j++) auxGrad[j] = scale * auxCoef * n * ((double) counts[j] / events) / events;
        }

        // backward, layer by layer from the top
        LayerBackward back = new LayerBackward(config, T, transposed);
        for (int l = L - 1; l >= 0; l--) {
            if (!keep) { // run the layer again, from its kept input
                System.arraycopy(inputs[l], 0, x, 0, T * H);
                model.layer(l, x, T, 0, cache, attention, attention.newState(), buf);
            }
            dx = back.run(l, model.weights().layers().get(l), inputs[l], keep ? saved[l] : LayerBackward.Saved.view(buf),
                    cache.keys(l), cache.values(l), dx, attention, grads, auxGrad);
            saved[l] = null;
            inputs[l] = null;
        }
        return new Loss(ce + auxCoef * aux, ce, aux, count);
    }

    /**
     * Whether to keep every layer's intermediates from the first forward pass (backward then runs no layer twice:
     * about a third less arithmetic) or only each layer's input (and run each layer again in backward). Kept when
     * that costs at most a third of the heap the JVM may use; {@link #keepActivations(Boolean)} forces a choice.
     */
    private boolean keepActivations(int T, Routers routers) {
        if (keepActivations != null) return keepActivations;
        int heads = config.numHeads(), d = config.headDim();
        int n = routers == null ? 1 : routers.numExperts(), k = routers == null ? 1 : routers.topK();
        long attentionPerLayer = 4L * T * heads * ((long) k * d + k + (routers == null ? 0 : d + 3L * n) + k);
        long bytes = config.numLayers() * (LayerBackward.Saved.bytes(config, T) + attentionPerLayer);
        return bytes <= Runtime.getRuntime().maxMemory() / 3;
    }

    /** {@code true}: keep every layer's intermediates; {@code false}: recompute each layer in backward; {@code null}: decide by memory (default). Returns this. */
    public ModelObjective keepActivations(Boolean keep) {
        this.keepActivations = keep;
        return this;
    }

    /** The K×N routing choice counts of the last evaluation (tests use them to see whether routing changed). */
    long[] lastChoiceCounts() {
        return lastChoiceCounts.clone();
    }

    private void check(int[] tokens, boolean[] targets, Routers routers, RouterGradients grads) {
        if (tokens.length < 2) throw new MoiceException("a training sequence needs at least 2 tokens, got " + tokens.length);
        for (int i = 0; i < tokens.length; i++)
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize())
                throw new MoiceException("token id " + tokens[i] + " at index " + i + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
        if (tokens.length > config.maxPositions() && config.ropeScaling().type().equals("dynamic"))
            throw new MoiceException("sequence of " + tokens.length + " tokens is longer than the model's "
                    + config.maxPositions() + " positions");
        if (targets != null) {
            if (targets.length != tokens.length)
                throw new IllegalArgumentException(targets.length + " target flags for " + tokens.length + " tokens");
            boolean any = false;
            for (int t = 1; t < targets.length; t++) any |= targets[t];
            if (!any) throw new MoiceException("the sequence has no target token to compute a loss on");
        }
        if (routers != null) {
            if (routers.numLayers() != config.numLayers() || routers.headDim() != config.headDim())
                throw new MoiceException("routers for " + routers.numLayers() + " layers of head dim "
                        + routers.headDim() + ", model has " + config.numLayers() + " layers of head dim "
                        + config.headDim());
            if (grads == null || grads.numLayers() != routers.numLayers())
                throw new IllegalArgumentException("gradient accumulator does not match the routers");
        }
    }

    /**
     * Mean next-token cross-entropy over the {@code count} targets (logits at position t-1 predict token t); adds
     * {@code gradScale ·} ∂CE_sum/∂(final hidden state) into {@code dx} (so gradScale = scale / count gives the
     * scaled mean).
     */
    private double crossEntropy(int[] tokens, boolean[] targets, int count, float[] hidden, float gradScale,
                                float[] dx) {
        Weights w = model.weights();
        int H = config.hiddenSize(), V = config.vocabSize(), T = tokens.length;
        float eps = config.rmsNormEps();
        int[] rows = new int[count];
        for (int t = 1, i = 0; t < T; t++) if (targets == null || targets[t]) rows[i++] = t - 1;
        Matrix lmHeadT = transposed.of(w.lmHead());
        float[] normed = new float[LOGIT_ROWS * H], logits = new float[LOGIT_ROWS * V], dNormed = new float[LOGIT_ROWS * H];
        double total = 0;
        for (int c0 = 0; c0 < count; c0 += LOGIT_ROWS) {
            int c = Math.min(LOGIT_ROWS, count - c0), first = c0;
            for (int i = 0; i < c; i++)
                VectorKernels.rmsnorm(hidden, rows[c0 + i] * H, w.finalNorm(), normed, i * H, H, eps);
            w.lmHead().matmul(normed, c, logits);
            double[] rowLoss = new double[c];
            Parallel.forRange(c, 1, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    int o = i * V, target = tokens[rows[first + i] + 1];
                    float max = VectorKernels.max(logits, o, V), targetLogit = logits[o + target];
                    double sum = 0; // float partial sums of short pieces, added in double
                    for (int v = 0; v < V; v += EXP_PIECE)
                        sum += AttentionTiles.expSum(logits, o + v, Math.min(EXP_PIECE, V - v), 1f, max);
                    rowLoss[i] = max + StrictMath.log(sum) - targetLogit;
                    VectorKernels.scale(logits, o, V, (float) (gradScale / sum));
                    logits[o + target] -= gradScale;
                }
            });
            for (double r : rowLoss) total += r;
            lmHeadT.matmul(logits, c, dNormed);
            for (int i = 0; i < c; i++)
                LayerBackward.rmsnormBackward(hidden, rows[c0 + i] * H, w.finalNorm(), dNormed, i * H, dx,
                        rows[c0 + i] * H, H, eps);
        }
        return total / count;
    }
}
