package moice.model;

import moice.MoiceException;
import moice.attention.AttentionShape;
import moice.attention.AttentionVariant;
import moice.attention.RopeLayout;
import moice.attention.RopeProvider;
import moice.attention.VanillaAttention;
import moice.tensor.Matrix;
import moice.tensor.Parallel;
import moice.tensor.VectorKernels;

/**
 * A frozen RoPE decoder-only transformer and its forward pass. One code path serves prefill (a block of tokens) and
 * decode (a block of one): every projection is a GEMM over the block, attention goes through an
 * {@link AttentionVariant}, and logits are computed only for the positions asked for.
 *
 * <p>Thread-safety: one forward call at a time per {@link KVCache} (and attention state); the model itself is
 * immutable, so sequences with their own caches and states may run on it concurrently.
 */
public final class Model {
    /** Largest block run at once; longer inputs are split so activation memory stays bounded. */
    static final int MAX_BLOCK = 512;
    /**
     * Rows of a block that an inference forward runs through the MLP at once: its two {@code [rows, intermediate]}
     * arrays are the largest activations, and they and the GEMM's packed input are sized to this instead of the block
     * (SmolLM2, 512-token block: 6.3 MB → 1.7 MB). A tail shorter than {@link #FFN_TAIL} joins the piece before it,
     * so that no piece falls to the matrix-vector path (another summation order, used up to 4 rows): pieces give the
     * block's bits, which FfnPiecesTest checks.
     */
    static final int FFN_ROWS = 128;
    static final int FFN_TAIL = 16;

    private final ModelConfig config;
    private final Weights weights;
    private final AttentionShape shape;
    private final RopeProvider rope;
    private final KVCache.Precision kvPrecision;

    public Model(ModelConfig config, Weights weights, RopeLayout layout) {
        this.config = config;
        this.weights = weights;
        this.shape = new AttentionShape(config.numHeads(), config.numKvHeads(), config.headDim(),
                config.slidingWindow(), layout);
        this.rope = new RopeProvider(config.ropeTheta(), config.headDim(), config.ropeScaling(), config.maxPositions());
        this.kvPrecision = KVCache.Precision.F32;
    }

    private Model(Model m, KVCache.Precision kvPrecision) {
        this.config = m.config;
        this.weights = m.weights;
        this.shape = m.shape;
        this.rope = m.rope;
        this.kvPrecision = kvPrecision;
    }

    /**
     * This model (the same weights, nothing copied) whose {@link #newCache} stores keys and values at
     * {@code precision}: {@link KVCache.Precision#F16} halves the cache, every session and method opened on the
     * returned model using it.
     */
    public Model withKvPrecision(KVCache.Precision precision) {
        return precision == kvPrecision ? this : new Model(this, precision);
    }

    /** What {@link #newCache} stores keys and values as (float32 unless {@link #withKvPrecision} said otherwise). */
    public KVCache.Precision kvPrecision() { return kvPrecision; }

    public ModelConfig config() { return config; }

    public Weights weights() { return weights; }

    public AttentionShape attentionShape() { return shape; }

    /** The model's own RoPE (base θ, its scaling). */
    public RopeProvider rope() { return rope; }

    /** Plain RoPE attention, as the model was trained. */
    public AttentionVariant vanilla() {
        return new VanillaAttention(shape, rope);
    }

    /** An empty KV cache for up to {@code capacity} positions, at this model's {@link #kvPrecision}. */
    public KVCache newCache(int capacity) {
        return new KVCache(config, capacity, kvPrecision);
    }

    /**
     * {@link #forward(int[], KVCache, AttentionVariant, AttentionVariant.State, int)} with a fresh attention state: for
     * one-shot calls and stateless variants (a stateful one, such as Ms-PoE after its prefill, needs the state kept
     * with the cache).
     */
    public float[] forward(int[] tokens, KVCache cache, AttentionVariant attention, int logitsCount) {
        return forward(tokens, cache, attention, attention.newState(), logitsCount);
    }

    /**
     * Runs {@code tokens} at positions {@code [cache.size(), cache.size() + tokens.length)}, appending their keys and
     * values to the cache, and returns the logits of the last {@code logitsCount} of them, {@code [logitsCount, vocab]}
     * row-major. {@code state} is the sequence's attention state ({@link AttentionVariant#newState()}), kept by the
     * caller with the cache.
     */
    public float[] forward(int[] tokens, KVCache cache, AttentionVariant attention, AttentionVariant.State state,
                           int logitsCount) {
        int n = tokens.length;
        if (logitsCount < 0 || logitsCount > n) throw new IllegalArgumentException("logitsCount " + logitsCount);
        for (int i = 0; i < n; i++)
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize())
                throw new MoiceException("token id " + tokens[i] + " at index " + i + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
        if (cache.size() + n > cache.capacity())
            throw new MoiceException("prompt of " + (cache.size() + n) + " tokens exceeds the context of "
                    + cache.capacity() + " tokens");
        int vocab = config.vocabSize();
        int firstWithLogits = n - logitsCount;
        int maxBlock = attention.needsWholeBlock(cache.size()) ? Math.max(n, 1) : MAX_BLOCK;
        // one set of activations for all blocks (sized for the largest), not a fresh set per block
        LayerBuffers buf = n == 0 ? null : LayerBuffers.forInference(config, Math.min(maxBlock, n));
        // and one residual stream: a block's outlives many young collections, so a fresh one per block would be
        // promoted and stay in the old generation as garbage (1.2 MB per SmolLM2 block)
        float[] x = new float[Math.min(maxBlock, n) * config.hiddenSize()];
        // one block (every decode step): its logits are the answer, no second array and copy (~200 KB per token)
        if (n > 0 && n <= maxBlock) return forwardBlock(tokens, cache, attention, state, logitsCount, buf, x);
        // a call of several blocks (a long prompt) reserves all its positions at once rather than growing the cache
        // block by block; a one-block call (a decode step, a prefill chunk) leaves growth to the cache's doubling
        if (n > maxBlock) cache.reserve(cache.size() + n);
        float[] logits = new float[logitsCount * vocab];
        for (int b = 0; b < n; b += maxBlock) {
            int T = Math.min(maxBlock, n - b);
            int[] block = java.util.Arrays.copyOfRange(tokens, b, b + T);
            int from = Math.max(firstWithLogits - b, 0);
            int want = from < T ? T - from : 0;
            float[] blockLogits = forwardBlock(block, cache, attention, state, want, buf, x);
            if (want > 0) System.arraycopy(blockLogits, 0, logits, (b + from - firstWithLogits) * vocab, want * vocab);
        }
        return logits;
    }

    /**
     * One decode step of B sequences at once: {@code tokens[b]} runs at position {@code caches[b].size()} of sequence b
     * (its cache, attention and state), and the result is the next-token logits of every sequence, {@code [B, vocab]}.
     * The projections run as one product over the B rows ({@link Matrix#matmulRowwise}), so a weight row is read once
     * for all of them; attention runs per sequence, the sequences spread over the pool. Each sequence's logits are bit
     * for bit those of {@link #forward} with its one token alone: batching does not change any answer.
     */
    public float[] decodeBatch(int[] tokens, KVCache[] caches, AttentionVariant[] attention,
                               AttentionVariant.State[] states) {
        int B = tokens.length, H = config.hiddenSize(), F = config.intermediateSize();
        if (caches.length != B || attention.length != B || states.length != B)
            throw new IllegalArgumentException("decodeBatch: " + B + " tokens, " + caches.length + " caches, "
                    + attention.length + " attention variants, " + states.length + " states");
        for (int b = 0; b < B; b++) {
            if (tokens[b] < 0 || tokens[b] >= config.vocabSize())
                throw new MoiceException("token id " + tokens[b] + " of sequence " + b + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
            if (caches[b].size() + 1 > caches[b].capacity())
                throw new MoiceException("sequence " + b + " is full (" + caches[b].capacity() + " positions)");
            for (int c = 0; c < b; c++)
                if (caches[c] == caches[b]) throw new IllegalArgumentException("decodeBatch: sequence " + b + " twice");
        }
        float eps = config.rmsNormEps();
        float[] x = new float[B * H];
        for (int b = 0; b < B; b++) weights.embed().row(tokens[b], x, b * H);
        LayerBuffers buf = new LayerBuffers(config, B);
        // per sequence, once per step (not per layer): its one-token q, k, v and attention output
        OneToken[] scratch = new OneToken[B];
        for (int b = 0; b < B; b++) scratch[b] = new OneToken(config);
        for (int l = 0; l < config.numLayers(); l++) {
            Weights.Layer w = weights.layers().get(l);
            for (int b = 0; b < B; b++) VectorKernels.rmsnorm(x, b * H, w.attnNorm(), buf.normed, b * H, H, eps);
            projectEach(buf.normed, 0, B, true, new Matrix[] {w.q(), w.k(), w.v()},
                    new float[][] {w.qBias(), w.kBias(), w.vBias()}, new float[][] {buf.q, buf.k, buf.v});
            if (B == 1) {
                attendOne(0, l, buf, caches, attention, states, scratch);
            } else {
                // each sequence's own cache and attention, as a one-token block, the sequences spread over the pool
                // (one job per layer instead of one per sequence; a sequence's attention then runs on one thread,
                // nested calls being serial, with the same chunks and so the same result as alone)
                int layer = l;
                Parallel.forRange(B, 1, (lo, hi) -> {
                    for (int b = lo; b < hi; b++) attendOne(b, layer, buf, caches, attention, states, scratch);
                });
            }
            projectRows(w.o(), w.oBias(), buf.attn, B, buf.proj);
            for (int b = 0; b < B; b++) VectorKernels.add(x, b * H, buf.proj, b * H, H);
            for (int b = 0; b < B; b++) VectorKernels.rmsnorm(x, b * H, w.ffnNorm(), buf.normed2, b * H, H, eps);
            projectEach(buf.normed2, 0, B, true, new Matrix[] {w.gate(), w.up()},
                    new float[][] {w.gateBias(), w.upBias()}, new float[][] {buf.gate, buf.up});
            for (int b = 0; b < B; b++) VectorKernels.siluMul(buf.gate, b * F, buf.up, b * F, buf.act, b * F, F);
            projectRows(w.down(), w.downBias(), buf.act, B, buf.proj);
            for (int b = 0; b < B; b++) VectorKernels.add(x, b * H, buf.proj, b * H, H);
        }
        for (KVCache c : caches) c.setSize(c.size() + 1);
        float[] last = new float[B * H];
        for (int b = 0; b < B; b++) VectorKernels.rmsnorm(x, b * H, weights.finalNorm(), last, b * H, H, eps);
        float[] logits = new float[B * config.vocabSize()];
        weights.lmHead().matmulRowwise(last, B, logits);
        return logits;
    }

    /**
     * Sequence b's attention at layer l in a decode batch: its q/k/v rows of {@code buf}, its output row;
     * {@code scratch[b]}: its own one-token arrays (the attention kernels take q, k, v and the output at offset 0).
     */
    private void attendOne(int b, int l, LayerBuffers buf, KVCache[] caches, AttentionVariant[] attention,
                           AttentionVariant.State[] states, OneToken[] scratch) {
        int qDim = config.qDim(), kvDim = config.kvDim();
        float[] q1 = scratch[b].q, k1 = scratch[b].k, v1 = scratch[b].v, a1 = scratch[b].out;
        int start = caches[b].size();
        System.arraycopy(buf.q, b * qDim, q1, 0, qDim);
        System.arraycopy(buf.k, b * kvDim, k1, 0, kvDim);
        System.arraycopy(buf.v, b * kvDim, v1, 0, kvDim);
        caches[b].store(l, start, 1, k1, v1);
        attention[b].attend(states[b], l, q1, 1, start, caches[b].keys(l), caches[b].values(l), a1);
        System.arraycopy(a1, 0, buf.attn, b * qDim, qDim);
    }

    /** One token's query, key, value and attention output. */
    private record OneToken(float[] q, float[] k, float[] v, float[] out) {
        OneToken(ModelConfig c) {
            this(new float[c.qDim()], new float[c.kvDim()], new float[c.kvDim()], new float[c.qDim()]);
        }
    }

    private static void projectRows(Matrix w, float[] bias, float[] in, int B, float[] out) {
        w.matmulRowwise(in, B, out);
        if (bias != null) for (int b = 0; b < B; b++) VectorKernels.add(out, b * w.rows(), bias, 0, w.rows());
    }

    /** One block of at most {@link #MAX_BLOCK} tokens (or all of them, when the attention variant asks so). */
    private float[] forwardBlock(int[] tokens, KVCache cache, AttentionVariant attention, AttentionVariant.State state,
                                 int logitsCount, LayerBuffers buf, float[] x) {
        int T = tokens.length, H = config.hiddenSize();
        int start = cache.size();
        for (int t = 0; t < T; t++) weights.embed().row(tokens[t], x, t * H);
        for (int l = 0; l < config.numLayers(); l++) layer(l, x, T, start, cache, attention, state, buf);
        cache.setSize(start + T);
        if (logitsCount == 0) return new float[0];
        float[] last = new float[logitsCount * H];
        int first = T - logitsCount;
        for (int t = 0; t < logitsCount; t++)
            VectorKernels.rmsnorm(x, (first + t) * H, weights.finalNorm(), last, t * H, H, config.rmsNormEps());
        float[] logits = new float[logitsCount * config.vocabSize()];
        weights.lmHead().matmul(last, logitsCount, logits);
        return logits;
    }

    /**
     * The activations of one layer over a block of {@code T} tokens, reused across layers. After
     * {@link #layer} they hold that layer's intermediates, which is what the backward pass of router training
     * (moice.train) reads instead of keeping a second copy of the layer code.
     */
    public static final class LayerBuffers {
        /** {@code [T, hidden]}: attention-norm output, residual stream after attention, FFN-norm output, o_proj / down_proj output. */
        public final float[] normed, mid, normed2, proj;
        /** {@code [T, qDim]} queries (un-rotated, bias added) and {@code [T, kvDim]} keys and values. */
        public final float[] q, k, v;
        /** {@code [T, qDim]} attention output before o_proj. */
        public final float[] attn;
        /**
         * {@code [T, intermediate]} gate and up projections, and {@code silu(gate) * up}; for inference at most
         * {@code [FFN_ROWS + FFN_TAIL - 1, intermediate]}: the MLP runs in pieces of rows.
         */
        public final float[] gate, up, act;

        /** Every intermediate in its own array, as the backward pass needs them. */
        public LayerBuffers(ModelConfig c, int T) {
            this(c, T, true);
        }

        private LayerBuffers(ModelConfig c, int T, boolean keepIntermediates) {
            normed = new float[T * c.hiddenSize()];
            proj = new float[T * c.hiddenSize()];
            q = new float[T * c.qDim()];
            k = new float[T * c.kvDim()];
            v = new float[T * c.kvDim()];
            attn = new float[T * c.qDim()];
            int ffnRows = keepIntermediates ? T : Math.min(T, FFN_ROWS + FFN_TAIL - 1);
            gate = new float[ffnRows * c.intermediateSize()];
            up = new float[ffnRows * c.intermediateSize()];
            // inference reads none of these after the layer: the FFN norm reuses the attention norm's array, the
            // SwiGLU product overwrites gate, and the residual is not copied (a 512-token block of SmolLM2: 5.5 of
            // 17 MB, a lower peak resident memory for generate)
            mid = keepIntermediates ? new float[T * c.hiddenSize()] : null;
            normed2 = keepIntermediates ? new float[T * c.hiddenSize()] : normed;
            act = keepIntermediates ? new float[T * c.intermediateSize()] : gate;
        }

        /** Buffers for a forward pass only: {@code mid} is null, {@code normed2} is {@code normed}, {@code act} is {@code gate}. */
        static LayerBuffers forInference(ModelConfig c, int T) {
            return new LayerBuffers(c, T, false);
        }
    }

    /**
     * Decoder layer {@code l} on the residual stream {@code x} ({@code [T, hidden]} at positions
     * {@code [start, start + T)}, updated in place), storing the block's keys and values in {@code cache} and every
     * intermediate in {@code b} (sized for at least {@code T} tokens); {@code state}: the sequence's attention state.
     */
    public void layer(int l, float[] x, int T, int start, KVCache cache, AttentionVariant attention,
                      AttentionVariant.State state, LayerBuffers b) {
        Weights.Layer w = weights.layers().get(l);
        int H = config.hiddenSize(), F = config.intermediateSize();
        float eps = config.rmsNormEps();

        // attention block
        rmsnormRows(x, w.attnNorm(), b.normed, T, H, eps);
        projectEach(b.normed, 0, T, false, new Matrix[] {w.q(), w.k(), w.v()},
                new float[][] {w.qBias(), w.kBias(), w.vBias()}, new float[][] {b.q, b.k, b.v});
        cache.store(l, start, T, b.k, b.v);
        attention.attend(state, l, b.q, T, start, cache.keys(l), cache.values(l), b.attn);
        project(w.o(), w.oBias(), b.attn, T, b.proj);
        VectorKernels.add(x, 0, b.proj, 0, T * H);
        if (b.mid != null) System.arraycopy(x, 0, b.mid, 0, T * H);

        // SwiGLU MLP
        rmsnormRows(x, w.ffnNorm(), b.normed2, T, H, eps);
        Matrix[] gateUp = {w.gate(), w.up()};
        float[][] gateUpBias = {w.gateBias(), w.upBias()}, gateUpOut = {b.gate, b.up};
        int pieceRows = b.gate.length / F;   // the whole block for training's buffers, a piece for inference's
        for (int r = 0, n; r < T; r += n) {
            n = T - r <= pieceRows ? T - r : FFN_ROWS;
            projectEach(b.normed2, r * H, n, false, gateUp, gateUpBias, gateUpOut);
            VectorKernels.siluMul(b.gate, 0, b.up, 0, b.act, 0, n * F);
            project(w.down(), w.downBias(), b.act, 0, n, b.proj, r * H);
        }
        VectorKernels.add(x, 0, b.proj, 0, T * H);
    }

    private static void rmsnormRows(float[] x, float[] weight, float[] out, int T, int H, float eps) {
        if (T < 16) {
            for (int t = 0; t < T; t++) VectorKernels.rmsnorm(x, t * H, weight, out, t * H, H, eps);
            return;
        }
        Parallel.forRange(T, (lo, hi) -> {
            for (int t = lo; t < hi; t++) VectorKernels.rmsnorm(x, t * H, weight, out, t * H, H, eps);
        });
    }

    /**
     * The {@code T} rows of {@code in} from offset {@code inOff} ({@code [T, cols]}; {@code rowwise} reads from row
     * 0) through several matrices of the same width, each output plus its bias (null: none). One token runs as one
     * pool job for all of them ({@link Matrix#matmulEach}: the decode step's q/k/v or gate/up without a hand-off per
     * matrix); more tokens run per matrix, {@code rowwise} (each row as one token alone gives it: decode batches) or
     * as one GEMM (prefill). Either way the numbers of {@link #project} or
     * {@link #projectRows} per matrix.
     */
    private static void projectEach(float[] in, int inOff, int T, boolean rowwise, Matrix[] ws, float[][] biases,
                                    float[][] outs) {
        if (T != 1) {
            for (int i = 0; i < ws.length; i++) {
                if (rowwise) projectRows(ws[i], biases[i], in, T, outs[i]);
                else project(ws[i], biases[i], in, inOff, T, outs[i], 0);
            }
            return;
        }
        Matrix.matmulEach(ws, in, inOff, outs);
        for (int i = 0; i < ws.length; i++)
            if (biases[i] != null) VectorKernels.add(outs[i], 0, biases[i], 0, biases[i].length);
    }

    private static void project(Matrix w, float[] bias, float[] in, int T, float[] out) {
        project(w, bias, in, 0, T, out, 0);
    }

    /** {@code T} rows of {@code in} from {@code inOff} into the rows of {@code out} from {@code outOff}. */
    private static void project(Matrix w, float[] bias, float[] in, int inOff, int T, float[] out, int outOff) {
        w.matmul(in, inOff, T, out, outOff, w.rows());
        if (bias != null) for (int t = 0; t < T; t++) VectorKernels.add(out, outOff + t * w.rows(), bias, 0, w.rows());
    }
}
