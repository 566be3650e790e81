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
 * MoICE attention over one whole training sequence (positions {@code [0, T)}) that keeps what its backward pass
 * needs, and that backward pass. With {@code routers == null} it is plain RoPE attention (one expert, the model's
 * base, weight 1), which the vanilla training benchmark uses.
 *
 * <p>Forward per layer: the router of MoiceAttention (same arithmetic, {@link Routers#logits}), then for every
 * selected (token, head, expert) a causal softmax attention with query and keys rotated by the expert's base, whose
 * output and log-sum-exp are kept ({@code [T·heads, K]}), so that backward needs neither T² memory nor a second
 * forward. Backward recomputes the scores (as FlashAttention's backward does), and returns gradients of the
 * un-rotated q, k, v; router gradients (cross-entropy through the renormalised top-K weights, plus the
 * load-balancing loss) are added to a {@link RouterGradients}.
 *
 * <p>Both passes are tiled, FlashAttention-2 style: a task is one (KV head, expert) pair; the queries of the head's
 * group that selected the expert form a dense block of rows (by position), keys are rotated once per task, and each
 * tile of {@code BQ} rows against the keys they see runs as small GEMMs ({@link AttentionTiles#gemm}): scores
 * {@code Q·Kᵀ}, {@code P·V}; backward {@code dP = dO·Vᵀ}, {@code dS = P ∘ (dP − Δ)}, {@code dV += Pᵀ·dO},
 * {@code dQ += dS·K}, {@code dK += dSᵀ·Q}. The plain row-by-row form is the test twin {@code AttentionGradReference}.
 *
 * <p>Results do not depend on the thread count: a task runs on one thread, and tasks' gradients are reduced in a
 * fixed order. Its arithmetic uses no operation whose result depends on JIT compilation (see
 * {@link moice.tensor.Exp}), so runs repeat bit for bit.
 *
 * <p>Unlike the inference variants this object is itself one training sequence's state (what backward reads), made
 * per {@code evaluate} call and never shared; the {@link State} argument is unused.
 */
final class AttentionGrad implements AttentionVariant {
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
    AttentionGrad(ModelConfig config, AttentionShape shape, Routers routers, int T, boolean keepAllLayers) {
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
            for (int task = lo; task < hi; task++) forwardTask(task / n, task % n, q, keys, values, st);
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

    /** Query rows per tile: a tile's scores are {@code [BQ, keys]}. */
    private static final int BQ = 48;
    private static final int COLS = AttentionTiles.COLS;

    /** Per-thread working memory of one (KV head, expert) task, reused across tasks and layers of this instance. */
    /** Per-thread working arrays for one (T, d, group) shape; reused across layers, sequences and instances. */
    private static final class Scratch {
        final int T, d, group;
        final int dp, tp, maxRows;
        final float[] keys, keysT, vals, valsT, query, dOut, dQuery, dKeys, dValues, probs, dScores, out;
        final int[] rowEvent, rowRank;
        final float[] rowLse, rowDelta;

        Scratch(int T, int d, int group) {
            this.T = T;
            this.d = d;
            this.group = group;
            dp = (d + COLS - 1) / COLS * COLS;       // padded head width (GEMM columns)
            tp = (T + COLS - 1) / COLS * COLS + COLS; // padded key count, room for a tile's rounded-up width
            maxRows = T * group;
            keys = new float[T * dp];                 // rotated keys, row-major
            keysT = new float[d * tp];                // rotated keys, transposed
            vals = new float[T * dp];                 // values, row-major
            valsT = new float[d * tp];                // values, transposed (backward)
            query = new float[maxRows * dp];          // rotated queries of the rows
            dOut = new float[maxRows * dp];           // weighted output gradients of the rows (backward)
            dQuery = new float[maxRows * dp];
            dKeys = new float[T * dp];
            dValues = new float[T * dp];
            probs = new float[BQ * tp];
            dScores = new float[BQ * tp];
            out = new float[BQ * dp];
            rowEvent = new int[maxRows];
            rowRank = new int[maxRows];
            rowLse = new float[maxRows];
            rowDelta = new float[maxRows];
        }
    }

    /**
     * One scratch per pool thread, shared by every instance of the same shape. Static on purpose: an instance field
     * ThreadLocal whose value reached back to its instance kept every finished sequence's AttentionGrad (and all its
     * kept layer states, ~1 GB at 1,024 tokens with K = 7) alive in the pool threads' maps, and training ran out of
     * heap after a few steps.
     */
    private static final ThreadLocal<Scratch> SCRATCH = new ThreadLocal<>();

    private Scratch scratch() {
        Scratch s = SCRATCH.get();
        if (s == null || s.T != T || s.d != d || s.group != shape.groupSize()) {
            s = new Scratch(T, d, shape.groupSize());
            SCRATCH.set(s);
        }
        return s;
    }
    /** Per (KV head, expert) task: un-rotated dq {@code [T, group, d]}, dk and dv {@code [T, d]}, reused across layers. */
    private float[][] taskDq, taskDk, taskDv;

    /** The rows of task (g, j): events of KV head g's query heads that selected expert j, by position then head. */
    private int gatherRows(int g, int j, LayerState st, Scratch s) {
        int group = shape.groupSize(), rows = 0;
        for (int t = 0; t < T; t++)
            for (int h = g * group; h < (g + 1) * group; h++) {
                int e = t * heads + h, r = rankOf(st, e, j);
                if (r < 0) continue;
                s.rowEvent[rows] = e;
                s.rowRank[rows++] = r;
            }
        return rows;
    }

    /**
     * Fills the scratch's rotated keys (both layouts), values (transposed too when {@code valuesT}) and rotated queries
     * for task (g, j).
     */
    private void prepare(int g, int j, int rows, float[] q, float[] keys, float[] values, boolean valuesT, Scratch s) {
        int kvDim = shape.kvDim(), qDim = shape.qDim(), dp = s.dp, tp = s.tp;
        for (int u = 0; u < T; u++) {
            System.arraycopy(keys, u * kvDim + g * d, s.keys, u * dp, d);
            rotate(s.keys, u * dp, u, ropes[j]);
            System.arraycopy(values, u * kvDim + g * d, s.vals, u * dp, d);
            for (int c = 0; c < d; c++) {
                s.keysT[c * tp + u] = s.keys[u * dp + c];
                if (valuesT) s.valsT[c * tp + u] = s.vals[u * dp + c];
            }
        }
        for (int i = 0; i < rows; i++) {
            int e = s.rowEvent[i], t = e / heads, h = e % heads;
            System.arraycopy(q, t * qDim + h * d, s.query, i * dp, d);
            rotate(s.query, i * dp, t, ropes[j]);
        }
    }

    /**
     * Rows {@code [i0, i0+bm)} of a task see keys {@code [ks, ks+kl)} between them (rows are ordered by position);
     * writes their scaled scores' {@code exp(· − shift)} into {@code s.probs} rows ({@code [bm, kw]}, zero where a
     * row does not see the key), the shift being each row's max when {@code forward} (rows are then normalised and
     * their log-sum-exp stored in {@code s.rowLse}), else the row's kept log-sum-exp from {@code s.rowLse}.
     */
    private void probabilities(int i0, int bm, int ks, int kl, int kw, boolean forward, Scratch s) {
        int tp = s.tp;
        AttentionTiles.gemm(bm, kw, d, s.query, i0 * s.dp, s.dp, 1, s.keysT, ks, tp, s.probs, 0, tp, false);
        for (int i = 0; i < bm; i++) {
            int t = s.rowEvent[i0 + i] / heads, row = i * tp;
            int lo = shape.firstVisible(t) - ks, hi = t - ks + 1;
            Arrays.fill(s.probs, row, row + lo, 0f);
            Arrays.fill(s.probs, row + hi, row + kw, 0f);
            if (forward) {
                float shift = VectorKernels.max(s.probs, row + lo, hi - lo) * scale;
                float sum = AttentionTiles.expSum(s.probs, row + lo, hi - lo, scale, shift);
                VectorKernels.scale(s.probs, row + lo, hi - lo, 1 / sum);
                s.rowLse[i0 + i] = (float) (shift + StrictMath.log(sum));
            } else {
                AttentionTiles.expSum(s.probs, row + lo, hi - lo, scale, s.rowLse[i0 + i]);
            }
        }
    }

    /** First key seen by any of the rows from {@code i0} (rows are ordered by position). */
    private int firstKey(int i0, Scratch s) {
        return shape.firstVisible(s.rowEvent[i0] / heads);
    }

    private void forwardTask(int g, int j, float[] q, float[] keys, float[] values, LayerState st) {
        Scratch s = scratch();
        int rows = gatherRows(g, j, st, s);
        if (rows == 0) return;
        prepare(g, j, rows, q, keys, values, false, s);
        int dp = s.dp, tp = s.tp;
        for (int i0 = 0; i0 < rows; i0 += BQ) {
            int bm = Math.min(BQ, rows - i0);
            int ks = firstKey(i0, s), kl = s.rowEvent[i0 + bm - 1] / heads - ks + 1, kw = (kl + COLS - 1) / COLS * COLS;
            probabilities(i0, bm, ks, kl, kw, true, s);
            AttentionTiles.gemm(bm, dp, kl, s.probs, 0, tp, 1, s.vals, ks * dp, dp, s.out, 0, dp, false);
            for (int i = 0; i < bm; i++) {
                int ek = s.rowEvent[i0 + i] * k + s.rowRank[i0 + i];
                System.arraycopy(s.out, i * dp, st.outputs, ek * d, d);
                st.lse[ek] = s.rowLse[i0 + i];
            }
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
        if (taskDq == null) {
            taskDq = new float[tasks][];
            taskDk = new float[tasks][];
            taskDv = new float[tasks][];
        }
        boolean[] used = new boolean[tasks];
        Parallel.forRange(tasks, 1, (lo, hi) -> {
            for (int task = lo; task < hi; task++) {
                if (taskDq[task] == null) {
                    taskDq[task] = new float[T * group * d];
                    taskDk[task] = new float[T * d];
                    taskDv[task] = new float[T * d];
                } else {
                    Arrays.fill(taskDq[task], 0f); // only the rows of the task's queries are written
                }
                used[task] = backwardTask(task / n, task % n, q, keys, values, dOut, taskDq[task], taskDk[task],
                        taskDv[task], st);
            }
        });
        Arrays.fill(dq, 0, T * qDim, 0f);
        Arrays.fill(dk, 0, T * kvDim, 0f);
        Arrays.fill(dv, 0, T * kvDim, 0f);
        for (int g = 0; g < kvHeads; g++)
            for (int j = 0; j < n; j++) {
                int task = g * n + j;
                if (!used[task]) continue;
                for (int t = 0; t < T; t++) {
                    VectorKernels.add(dq, t * qDim + g * group * d, taskDq[task], t * group * d, group * d);
                    VectorKernels.add(dk, t * kvDim + g * d, taskDk[task], t * d, d);
                    VectorKernels.add(dv, t * kvDim + g * d, taskDv[task], t * d, d);
                }
            }
        if (routers != null) routerBackward(st, dOut, dq, grads, auxGrad);
    }

    /**
     * One (KV head, expert) pair, writing its un-rotated gradients: {@code tdq [T, group, d]}, {@code tdk}, {@code tdv}
     * {@code [T, d]}; false when no query of the group selected the expert.
     */
    private boolean backwardTask(int g, int j, float[] q, float[] keys, float[] values, float[] dOut, float[] tdq,
                                 float[] tdk, float[] tdv, LayerState st) {
        Scratch s = scratch();
        int rows = gatherRows(g, j, st, s);
        if (rows == 0) return false;
        prepare(g, j, rows, q, keys, values, true, s);
        int group = shape.groupSize(), qDim = shape.qDim(), dp = s.dp, tp = s.tp;
        for (int i = 0; i < rows; i++) {
            int e = s.rowEvent[i], ek = e * k + s.rowRank[i], t = e / heads, h = e % heads;
            float w = st.weights[ek];
            for (int c = 0; c < d; c++) s.dOut[i * dp + c] = w * dOut[t * qDim + h * d + c];
            s.rowDelta[i] = VectorKernels.dot(s.dOut, i * dp, st.outputs, ek * d, d);
            s.rowLse[i] = st.lse[ek];
        }
        Arrays.fill(s.dQuery, 0, rows * dp, 0f);
        Arrays.fill(s.dKeys, 0f);
        Arrays.fill(s.dValues, 0f);
        for (int i0 = 0; i0 < rows; i0 += BQ) {
            int bm = Math.min(BQ, rows - i0);
            int ks = firstKey(i0, s), kl = s.rowEvent[i0 + bm - 1] / heads - ks + 1, kw = (kl + COLS - 1) / COLS * COLS;
            probabilities(i0, bm, ks, kl, kw, false, s);
            // dP = dO·Vᵀ, then dS = P ∘ (dP − Δ) · scale (zero where P is)
            AttentionTiles.gemm(bm, kw, d, s.dOut, i0 * dp, dp, 1, s.valsT, ks, tp, s.dScores, 0, tp, false);
            for (int i = 0; i < bm; i++)
                AttentionTiles.scoreGrad(s.probs, i * tp, s.dScores, i * tp, kl, s.rowDelta[i0 + i], scale);
            AttentionTiles.gemm(kl, dp, bm, s.probs, 0, 1, tp, s.dOut, i0 * dp, dp, s.dValues, ks * dp, dp, true);
            AttentionTiles.gemm(bm, dp, kl, s.dScores, 0, tp, 1, s.keys, ks * dp, dp, s.dQuery, i0 * dp, dp, true);
            AttentionTiles.gemm(kl, dp, bm, s.dScores, 0, 1, tp, s.query, i0 * dp, dp, s.dKeys, ks * dp, dp, true);
        }
        for (int i = 0; i < rows; i++) {
            int e = s.rowEvent[i], t = e / heads, h = e % heads;
            rotateBack(s.dQuery, i * dp, t, ropes[j]);
            System.arraycopy(s.dQuery, i * dp, tdq, (t * group + h - g * group) * d, d);
        }
        for (int u = 0; u < T; u++) {
            rotateBack(s.dKeys, u * dp, u, ropes[j]);
            System.arraycopy(s.dKeys, u * dp, tdk, u * d, d);
            System.arraycopy(s.dValues, u * dp, tdv, u * d, d);
        }
        return true;
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
            double[] dw = new double[k], hidden = new double[n];
            double[] dx = new double[d];
            float[] dxf = new float[d];
            for (int chunk = lo; chunk < hi; chunk++) {
                double[] acc = new double[2 * n * d + n * n]; // gate1 | gate2 | gate3
                int g2 = n * d, g3 = n * d + n * n;
                for (int e = chunk * ROUTER_CHUNK; e < Math.min(events, (chunk + 1) * ROUTER_CHUNK); e++) {
                    int t = e / heads, h = e % heads;
                    Arrays.fill(dz, 0);
                    double wdw = 0;
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
                    for (int c = 0; c < n; c++) hidden[c] = Routers.hidden(gateA[e * n + c], gateB[e * n + c]);
                    for (int i = 0; i < n; i++) {
                        for (int c = 0; c < n; c++) acc[g2 + i * n + c] += dz[i] * hidden[c];
                        double a = gateA[e * n + i], sig = 1 / (1 + StrictMath.exp(-a));
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
        for (float v : z) total += StrictMath.exp(v - max);
        for (int i = 0; i < z.length; i++) dst[off + i] = (float) (StrictMath.exp(z[i] - max) / total);
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
