package moice.train;

import moice.attention.AttentionShape;
import moice.attention.AttentionVariant;
import moice.attention.Rope;
import moice.attention.RopeLayout;
import moice.attention.RopeProvider;
import moice.attention.Routers;
import moice.model.ModelConfig;
import moice.tensor.Parallel;
import moice.tensor.VectorKernels;

import java.util.Arrays;

/**
 * The plain row-by-row form of {@link AttentionGrad}, kept as its reference twin for tests (one d-length dot or
 * axpy per (query, key) pair, no tiling). Same contract as {@link AttentionGrad}:
 *
 * <p>MoICE attention over one whole training sequence (positions {@code [0, T)}) that keeps what its backward pass
 * needs, and that backward pass. With {@code routers == null} it is plain RoPE attention (one expert, the model's
 * base, weight 1), which the vanilla training benchmark uses.
 *
 * <p>Forward per layer: the router of MoiceAttention (same arithmetic, {@link Routers#logits}), then for every
 * selected (token, head, expert) a causal softmax attention with query and keys rotated by the expert's base, whose
 * output and log-sum-exp are kept ({@code [T·heads, K]}), so that backward needs neither T² memory nor a second
 * forward. Backward recomputes the scores row by row (as FlashAttention's backward does), and returns gradients of
 * the un-rotated q, k, v; router gradients (cross-entropy through the renormalised top-K weights, plus the
 * load-balancing loss) are added to a {@link RouterGradients}.
 *
 * <p>Results do not depend on the thread count: work is split in fixed pieces and reduced in a fixed order.
 */
final class AttentionGradReference implements AttentionVariant {
    private static final int ROUTER_CHUNK = 32;

    private final AttentionShape shape;
    private final Routers routers;
    private final Rope[] ropes;
    private final int T, n, k, heads, d;
    private final float scale;

    /** Routing and expert outputs of one layer, {@code E = T·heads} events. */
    private final class LayerState {
        final float[] routerIn;      // [E, d] query rotated with the first base
        final float[] gateA, gateB;  // [E, N] W1·x, W3·x
        final float[] probs;         // [E, N] softmax(z)
        final int[] experts;         // [E, K]
        final float[] weights;       // [E, K]
        final float[] outputs;       // [E, K, d]
        final float[] lse;           // [E, K]
        int layer = -1;

        LayerState() {
            int e = T * heads;
            routerIn = routers == null ? null : new float[e * d];
            gateA = routers == null ? null : new float[e * n];
            gateB = routers == null ? null : new float[e * n];
            probs = routers == null ? null : new float[e * n];
            experts = new int[e * k];
            weights = new float[e * k];
            outputs = new float[e * k * d];
            lse = new float[e * k];
        }
    }

    /** One state per layer when keeping them all, else one reused for whichever layer ran last. */
    private final LayerState[] states;

    // load-balancing statistics over every layer attended while counting
    private boolean counting;
    private final long[] choiceCounts;   // [K, N]
    private final double[] probSums;     // [N]
    private long events;

    /**
     * @param keepAllLayers keep every layer's routing and expert outputs (backward then needs no second forward of
     *                      the attention); otherwise only the last layer attended is kept
     */
    AttentionGradReference(ModelConfig config, AttentionShape shape, Routers routers, int T, boolean keepAllLayers) {
        this.shape = shape;
        this.routers = routers;
        this.T = T;
        this.heads = shape.numHeads();
        this.d = shape.headDim();
        this.n = routers == null ? 1 : routers.numExperts();
        this.k = routers == null ? 1 : routers.topK();
        this.scale = (float) (1.0 / Math.sqrt(d));
        ropes = new Rope[n];
        for (int j = 0; j < n; j++) {
            double base = routers == null ? config.ropeTheta() : routers.bases()[j];
            ropes[j] = new RopeProvider(base, d, config.ropeScaling(), config.maxPositions()).forLength(T);
        }
        states = new LayerState[keepAllLayers ? config.numLayers() : 1];
        choiceCounts = new long[k * n];
        probSums = new double[n];
    }

    /** While on, every layer attended adds its routing events to the load-balancing statistics. */
    void countRouting(boolean on) {
        counting = on;
    }

    /** The kept expert outputs of {@code layer} ({@code [T·heads, K, d]}, by rank), for tests. */
    float[] keptOutputs(int layer) {
        return states[states.length == 1 ? 0 : layer].outputs;
    }

    /** The kept log-sum-exp of {@code layer} ({@code [T·heads, K]}), for tests. */
    float[] keptLse(int layer) {
        return states[states.length == 1 ? 0 : layer].lse;
    }

    /** Routing events counted so far (layers × tokens × heads). */
    long events() { return events; }

    /** Counted events by rank and expert, {@code [K, N]}. */
    long[] choiceCounts() {
        return choiceCounts.clone();
    }

    /** Per expert, how many counted events chose it at any rank ({@code Σ_k} of the K×N choice counts). */
    long[] choiceCountsPerExpert() {
        long[] c = new long[n];
        for (int r = 0; r < k; r++) for (int j = 0; j < n; j++) c[j] += choiceCounts[r * n + j];
        return c;
    }

    /**
     * {@code L_aux = N · Σ_k Σ_n f[k][n] · Pbar[n]} over the counted events: f[k][n] the fraction of events whose k-th
     * choice is expert n, Pbar[n] the mean probability of expert n.
     */
    double auxLoss() {
        if (events == 0) return 0;
        double s = 0;
        for (int r = 0; r < k; r++)
            for (int j = 0; j < n; j++) s += (double) choiceCounts[r * n + j] / events * (probSums[j] / events);
        return n * s;
    }

    @Override
    public void attend(State sequence, int layer, float[] q, int T, int start, float[] keys, float[] values,
                       float[] out) {
        if (start != 0 || T != this.T)
            throw new IllegalArgumentException("training attention runs whole sequences of " + this.T + " tokens");
        int slot = states.length == 1 ? 0 : layer;
        if (states[slot] == null) states[slot] = new LayerState();
        LayerState st = states[slot];
        st.layer = layer;
        if (routers == null) {
            Arrays.fill(st.experts, 0);
            Arrays.fill(st.weights, 1f);
        } else {
            route(layer, q, st);
        }
        int kvHeads = shape.numKvHeads();
        Parallel.forRange(kvHeads * n, 1, (lo, hi) -> {
            Scratch s = new Scratch(T, d);
            for (int task = lo; task < hi; task++) forwardTask(task / n, task % n, q, keys, values, s, st);
        });
        int qDim = shape.qDim();
        Arrays.fill(out, 0, T * qDim, 0f);
        for (int e = 0; e < T * heads; e++)
            for (int r = 0; r < k; r++)
                VectorKernels.axpy(st.weights[e * k + r], st.outputs, (e * k + r) * d, out, e * d, d);
        if (counting) {
            for (int e = 0; e < T * heads; e++)
                for (int r = 0; r < k; r++) choiceCounts[r * n + st.experts[e * k + r]]++;
            if (st.probs != null)
                for (int e = 0; e < T * heads; e++)
                    for (int j = 0; j < n; j++) probSums[j] += st.probs[e * n + j];
            else probSums[0] += T * heads;
            events += (long) T * heads;
        }
    }

    private void route(int layer, float[] q, LayerState st) {
        int qDim = shape.qDim();
        Parallel.forRange(T * heads, 64, (lo, hi) -> {
            float[] a = new float[n], b = new float[n], z = new float[n];
            for (int e = lo; e < hi; e++) {
                int t = e / heads, h = e % heads;
                System.arraycopy(q, t * qDim + h * d, st.routerIn, e * d, d);
                rotate(st.routerIn, e * d, t, ropes[0]);
                routers.logits(layer, st.routerIn, e * d, a, b, z);
                System.arraycopy(a, 0, st.gateA, e * n, n);
                System.arraycopy(b, 0, st.gateB, e * n, n);
                softmax(z, st.probs, e * n);
                Routers.selectTopK(z, 0, n, k, st.experts, st.weights, e * k);
            }
        });
    }

    /** Rank of expert {@code j} among event {@code e}'s choices, or -1. */
    private int rankOf(LayerState st, int e, int j) {
        for (int r = 0; r < k; r++) if (st.experts[e * k + r] == j) return r;
        return -1;
    }

    /** Per-task working memory. */
    private static final class Scratch {
        final float[] keys, scores, query, dQuery, dKeys, dValues, dOut;

        Scratch(int T, int d) {
            keys = new float[T * d];
            scores = new float[T];
            query = new float[d];
            dQuery = new float[d];
            dKeys = new float[T * d];
            dValues = new float[T * d];
            dOut = new float[d];
        }
    }

    /** Rotates KV head {@code g}'s keys with expert {@code j}'s base into {@code dst} ({@code [T, d]}). */
    private void rotatedKeys(float[] keys, int g, int j, float[] dst) {
        int kvDim = shape.kvDim();
        for (int u = 0; u < T; u++) {
            System.arraycopy(keys, u * kvDim + g * d, dst, u * d, d);
            rotate(dst, u * d, u, ropes[j]);
        }
    }

    private void forwardTask(int g, int j, float[] q, float[] keys, float[] values, Scratch s, LayerState st) {
        int group = shape.groupSize(), qDim = shape.qDim(), kvDim = shape.kvDim();
        boolean keysReady = false;
        for (int t = 0; t < T; t++)
            for (int h = g * group; h < (g + 1) * group; h++) {
                int e = t * heads + h, r = rankOf(st, e, j);
                if (r < 0) continue;
                if (!keysReady) {
                    rotatedKeys(keys, g, j, s.keys);
                    keysReady = true;
                }
                System.arraycopy(q, t * qDim + h * d, s.query, 0, d);
                rotate(s.query, 0, t, ropes[j]);
                int lo = shape.firstVisible(t);
                float max = Float.NEGATIVE_INFINITY;
                for (int u = lo; u <= t; u++) {
                    float sc = VectorKernels.dot(s.query, 0, s.keys, u * d, d) * scale;
                    s.scores[u] = sc;
                    if (sc > max) max = sc;
                }
                int o = (e * k + r) * d;
                float[] outputs = st.outputs;
                Arrays.fill(outputs, o, o + d, 0f);
                double sum = 0;
                for (int u = lo; u <= t; u++) {
                    float p = (float) Math.exp(s.scores[u] - max);
                    sum += p;
                    VectorKernels.axpy(p, values, u * kvDim + g * d, outputs, o, d);
                }
                VectorKernels.scale(outputs, o, d, (float) (1 / sum));
                st.lse[e * k + r] = (float) (max + Math.log(sum));
            }
    }

    /**
     * Backward of {@code layer} (kept, or the last layer attended): from {@code dOut} ({@code [T, qDim]}, the gradient of the attention
     * output) writes the gradients of the un-rotated {@code q} ({@code [T, qDim]}), {@code k} and {@code v}
     * ({@code [T, kvDim]}), and adds the router gradients of this layer to {@code grads}. {@code auxGrad[n]} is
     * ∂(scaled loss)/∂P[e][n] of the load-balancing term, the same for every event (null: no load-balancing term).
     */
    void backward(int layer, float[] q, float[] keys, float[] values, float[] dOut, float[] dq, float[] dk, float[] dv,
                  RouterGradients grads, double[] auxGrad) {
        int kvHeads = shape.numKvHeads(), qDim = shape.qDim(), kvDim = shape.kvDim(), group = shape.groupSize();
        LayerState st = states[states.length == 1 ? 0 : layer];
        if (st == null || st.layer != layer) throw new IllegalStateException("layer " + layer + " was not attended");
        int tasks = kvHeads * n;
        float[][] taskDq = new float[tasks][], taskDk = new float[tasks][], taskDv = new float[tasks][];
        Parallel.forRange(tasks, 1, (lo, hi) -> {
            Scratch s = new Scratch(T, d);
            for (int task = lo; task < hi; task++) {
                int g = task / n, j = task % n;
                float[] tdq = new float[T * group * d];
                if (backwardTask(g, j, q, keys, values, dOut, tdq, s, st)) {
                    taskDq[task] = tdq;
                    taskDk[task] = s.dKeys.clone();
                    taskDv[task] = s.dValues.clone();
                }
            }
        });
        Arrays.fill(dq, 0, T * qDim, 0f);
        Arrays.fill(dk, 0, T * kvDim, 0f);
        Arrays.fill(dv, 0, T * kvDim, 0f);
        for (int g = 0; g < kvHeads; g++)
            for (int j = 0; j < n; j++) {
                int task = g * n + j;
                if (taskDq[task] == null) continue;
                for (int t = 0; t < T; t++) {
                    VectorKernels.add(dq, t * qDim + g * group * d, taskDq[task], t * group * d, group * d);
                    VectorKernels.add(dk, t * kvDim + g * d, taskDk[task], t * d, d);
                    VectorKernels.add(dv, t * kvDim + g * d, taskDv[task], t * d, d);
                }
            }
        if (routers != null) routerBackward(st, dOut, dq, grads, auxGrad);
    }

    /** One (KV head, expert) pair; false when no query of the group selected the expert. */
    private boolean backwardTask(int g, int j, float[] q, float[] keys, float[] values, float[] dOut, float[] tdq,
                                 Scratch s, LayerState st) {
        int group = shape.groupSize(), qDim = shape.qDim(), kvDim = shape.kvDim();
        boolean any = false;
        for (int t = 0; t < T; t++)
            for (int h = g * group; h < (g + 1) * group; h++) {
                int e = t * heads + h, r = rankOf(st, e, j);
                if (r < 0) continue;
                if (!any) {
                    rotatedKeys(keys, g, j, s.keys);
                    Arrays.fill(s.dKeys, 0f);
                    Arrays.fill(s.dValues, 0f);
                    any = true;
                }
                float w = st.weights[e * k + r];
                for (int c = 0; c < d; c++) s.dOut[c] = w * dOut[t * qDim + h * d + c];
                int o = (e * k + r) * d;
                float delta = VectorKernels.dot(s.dOut, 0, st.outputs, o, d);
                float rowLse = st.lse[e * k + r];
                System.arraycopy(q, t * qDim + h * d, s.query, 0, d);
                rotate(s.query, 0, t, ropes[j]);
                Arrays.fill(s.dQuery, 0f);
                for (int u = shape.firstVisible(t); u <= t; u++) {
                    float p = (float) Math.exp(VectorKernels.dot(s.query, 0, s.keys, u * d, d) * scale - rowLse);
                    VectorKernels.axpy(p, s.dOut, 0, s.dValues, u * d, d);
                    float dp = VectorKernels.dot(s.dOut, 0, values, u * kvDim + g * d, d);
                    float ds = p * (dp - delta) * scale;
                    VectorKernels.axpy(ds, s.keys, u * d, s.dQuery, 0, d);
                    VectorKernels.axpy(ds, s.query, 0, s.dKeys, u * d, d);
                }
                rotateBack(s.dQuery, 0, t, ropes[j]);
                VectorKernels.add(tdq, (t * group + h - g * group) * d, s.dQuery, 0, d);
            }
        if (any) for (int u = 0; u < T; u++) rotateBack(s.dKeys, u * d, u, ropes[j]);
        return any;
    }

    /**
     * Router gradients of the layer: ∂loss/∂z through the renormalised top-K weights (w_r = softmax over the kept
     * logits, so ∂/∂z_kept = w ⊙ (dw − Σ w·dw), nothing for the others) plus the load-balancing term through
     * P = softmax(z), then through {@code z = W2·(silu(W1 x) ⊙ W3 x)} to the gates and to the router input, whose
     * gradient reaches the query through the first base's rotation.
     */
    private void routerBackward(LayerState st, float[] dOut, float[] dq, RouterGradients grads, double[] auxGrad) {
        int layer = st.layer;
        float[] weights = st.weights, outputs = st.outputs, probs = st.probs, gateA = st.gateA, gateB = st.gateB,
                routerIn = st.routerIn;
        int[] experts = st.experts;
        int qDim = shape.qDim(), events = T * heads;
        int chunks = (events + ROUTER_CHUNK - 1) / ROUTER_CHUNK;
        float[] w1 = routers.gate1()[layer], w2 = routers.gate2()[layer], w3 = routers.gate3()[layer];
        double[][] partial = new double[chunks][];
        Parallel.forRange(chunks, 1, (lo, hi) -> {
            double[] dz = new double[n], dHidden = new double[n], da = new double[n], db = new double[n];
            double[] dx = new double[d];
            float[] dxf = new float[d];
            for (int chunk = lo; chunk < hi; chunk++) {
                double[] acc = new double[2 * n * d + n * n]; // gate1 | gate2 | gate3
                int g2 = n * d, g3 = n * d + n * n;
                for (int e = chunk * ROUTER_CHUNK; e < Math.min(events, (chunk + 1) * ROUTER_CHUNK); e++) {
                    int t = e / heads, h = e % heads;
                    Arrays.fill(dz, 0);
                    double wdw = 0;
                    double[] dw = new double[k];
                    for (int r = 0; r < k; r++) {
                        dw[r] = VectorKernels.dot(dOut, t * qDim + h * d, outputs, (e * k + r) * d, d);
                        wdw += weights[e * k + r] * dw[r];
                    }
                    for (int r = 0; r < k; r++) dz[experts[e * k + r]] += weights[e * k + r] * (dw[r] - wdw);
                    if (auxGrad != null) {
                        double pc = 0;
                        for (int i = 0; i < n; i++) pc += probs[e * n + i] * auxGrad[i];
                        for (int i = 0; i < n; i++) dz[i] += probs[e * n + i] * (auxGrad[i] - pc);
                    }
                    for (int c = 0; c < n; c++) {
                        double s = 0;
                        for (int i = 0; i < n; i++) s += w2[i * n + c] * dz[i];
                        dHidden[c] = s;
                    }
                    for (int i = 0; i < n; i++) {
                        for (int c = 0; c < n; c++)
                            acc[g2 + i * n + c] += dz[i] * Routers.hidden(gateA[e * n + c], gateB[e * n + c]);
                        double a = gateA[e * n + i], sig = 1 / (1 + Math.exp(-a));
                        da[i] = dHidden[i] * gateB[e * n + i] * sig * (1 + a * (1 - sig));
                        db[i] = dHidden[i] * a * sig;
                    }
                    Arrays.fill(dx, 0);
                    for (int i = 0; i < n; i++)
                        for (int c = 0; c < d; c++) {
                            double x = routerIn[e * d + c];
                            acc[i * d + c] += da[i] * x;
                            acc[g3 + i * d + c] += db[i] * x;
                            dx[c] += w1[i * d + c] * da[i] + w3[i * d + c] * db[i];
                        }
                    for (int c = 0; c < d; c++) dxf[c] = (float) dx[c];
                    rotateBack(dxf, 0, t, ropes[0]);
                    VectorKernels.add(dq, t * qDim + h * d, dxf, 0, d);
                }
                partial[chunk] = acc;
            }
        });
        float[] g1 = grads.gate1()[layer], g2 = grads.gate2()[layer], g3 = grads.gate3()[layer];
        double[] total = new double[2 * n * d + n * n];
        for (double[] p : partial) for (int i = 0; i < total.length; i++) total[i] += p[i];
        for (int i = 0; i < n * d; i++) {
            g1[i] += (float) total[i];
            g3[i] += (float) total[n * d + n * n + i];
        }
        for (int i = 0; i < n * n; i++) g2[i] += (float) total[n * d + i];
    }

    private static void softmax(float[] z, float[] dst, int off) {
        double max = Double.NEGATIVE_INFINITY, total = 0;
        for (float v : z) max = Math.max(max, v);
        for (float v : z) total += Math.exp(v - max);
        for (int i = 0; i < z.length; i++) dst[off + i] = (float) (Math.exp(z[i] - max) / total);
    }

    private void rotate(float[] x, int xo, int pos, Rope rope) {
        int co = pos * (d / 2);
        if (shape.layout() == RopeLayout.HALF_SPLIT) VectorKernels.rotateHalf(x, xo, rope.cos(), rope.sin(), co, d);
        else VectorKernels.rotateInterleaved(x, xo, rope.cos(), rope.sin(), co, d);
    }

    /** The transpose of {@link #rotate}: the gradient of a rotated vector mapped back to the un-rotated one. */
    private void rotateBack(float[] x, int xo, int pos, Rope rope) {
        int half = d / 2, co = pos * half;
        float[] cos = rope.cos(), sin = rope.sin();
        boolean split = shape.layout() == RopeLayout.HALF_SPLIT;
        for (int i = 0; i < half; i++) {
            int a = split ? xo + i : xo + 2 * i, b = split ? xo + half + i : xo + 2 * i + 1;
            float x1 = x[a], x2 = x[b], c = cos[co + i], s = sin[co + i];
            x[a] = x1 * c + x2 * s;
            x[b] = x2 * c - x1 * s;
        }
    }
}
