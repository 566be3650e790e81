package moice.api;

import moice.MoiceException;
import moice.attention.MoiceAttention;
import moice.attention.RoutingLog;
import moice.attention.RoutingStats;
import moice.method.Method;
import moice.method.Methods;
import moice.model.Generator;
import moice.model.InferenceSession;
import moice.model.Sampler;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * One sequence on a loaded model, run with one attention {@link Method}: its KV cache(s) and the method's
 * per-sequence state (Ms-PoE head ranks, MoICE routing, Attention Buckets' passes) belong to this session alone.
 * Opened by {@link Engine#session}.
 *
 * <p>{@link #forward} appends tokens to the session's sequence and returns their logits; {@link #reset} empties it.
 * {@link #generate} and {@link #chat} run their prompt as a new sequence (they reset the session first and leave it
 * empty), exactly as {@code bin/moice generate} does. With {@link SessionOptions#reusePrefix()} the session keeps the
 * last generation's KV cache, and a generation whose prompt starts with tokens of that sequence (the next turn of a
 * conversation: earlier turns, the answer, then the new message) computes only the rest of its prompt. The cached
 * positions were computed in other blocks than a fresh prefill would use, so logits agree within rounding
 * ({@code Bounds.forwardPass}, as for chunked prefill), not bit for bit.
 *
 * <p>Not thread-safe: use a session from one thread at a time ({@link #cancel} excepted). Several sessions (of the
 * same or different methods) may run concurrently on one engine, each on its own thread; results do not depend on
 * what other sessions do.
 */
public final class Session {
    private final Engine engine;
    private final Method method;
    private final InferenceSession.Factory sessions;
    private InferenceSession current;
    /** The sequence opened last (by {@link #forward} or a generation), for {@link #routing()}. */
    private InferenceSession last;

    private final boolean reusePrefix;
    private final moice.model.KVCache.Precision kvCache;
    /** The flag of the generation in progress ({@link #cancel}); null between generations. */
    private volatile AtomicBoolean running;
    /** With prefix reuse: the last generation's sequence, its cache holding {@code heldTokens[0, held.size())}. */
    private InferenceSession.Single held;
    private int[] heldTokens;
    private int reused;

    Session(Engine engine, Method method, InferenceSession.Factory sessions, SessionOptions options) {
        this.engine = engine;
        this.method = method;
        this.kvCache = options.kvCache();
        moice.model.DecodeBatcher batcher = options.batchDecode() ? engine.decodeBatcher() : null;
        this.sessions = capacity -> {
            InferenceSession s = sessions.open(capacity);
            if (s instanceof InferenceSession.Single single) {
                if (batcher != null) single.decodeWith(batcher, options.prefillChunk());
                single.cancelWhen(this::cancelRequested);
            }
            last = s;
            return s;
        };
        // Ms-PoE's head ratios come from the whole first block; Attention Buckets runs an ensemble of caches
        this.reusePrefix = options.reusePrefix() && !(method instanceof Method.MsPoe)
                && !(method instanceof Method.AttentionBuckets);
    }

    /** The attention method this session runs. */
    public Method method() { return method; }

    /** The engine this session belongs to. */
    public Engine engine() { return engine; }

    /**
     * Continues {@code prompt} (plain text; the tokenizer's special tokens such as BOS are added, as
     * {@code bin/moice generate} without {@code --chat}).
     */
    public Completion generate(String prompt, GenerateOptions options) {
        return generate(prompt, options, null);
    }

    /**
     * As {@link #generate(String, GenerateOptions)}, calling {@code onText} with each piece of text as soon as it is
     * decoded (complete characters that cannot be the start of a stop string); the pieces concatenate to the
     * completion's text. {@code onText} runs on the calling thread; null: no streaming.
     */
    public Completion generate(String prompt, GenerateOptions options, Consumer<String> onText) {
        return generate(engine.tokenize(prompt), options, onText);
    }

    /**
     * Continues a prompt given as token ids (nothing is added).
     *
     * @throws CancellationException when {@link #cancel} was called during the generation (the session stays usable;
     *                               a cancelled sequence is not kept for prefix reuse)
     */
    public Completion generate(int[] promptTokens, GenerateOptions options, Consumer<String> onText) {
        var flag = new AtomicBoolean();
        running = flag;
        try {
            return run(promptTokens, options, onText, flag);
        } catch (CancellationException e) {
            held = null;
            heldTokens = null;
            reused = 0;
            throw e;
        } finally {
            running = null;
        }
    }

    /**
     * Asks the generation running on this session to stop, from any thread (e.g. when its client has gone): it
     * throws {@link CancellationException} before its next prefill chunk (sessions opened with
     * {@link SessionOptions#prefillChunk()} on a batching engine) or its next token. No effect when no generation
     * runs; the next one starts uncancelled.
     */
    public void cancel() {
        var flag = running;
        if (flag != null) flag.set(true);
    }

    private boolean cancelRequested() {
        var flag = running;
        return flag != null && flag.get();
    }

    private Completion run(int[] promptTokens, GenerateOptions options, Consumer<String> onText,
                           AtomicBoolean cancelled) {
        current = null;
        reused = 0;
        Consumer<String> sink = onText != null ? onText : s -> { };
        var decoder = engine.model().tokenizer().newStreamDecoder(true);
        Generator.TextStream stream = new Generator.TextStream() {
            @Override
            public String push(int id) {
                if (cancelled.get()) throw new CancellationException("generation cancelled");
                return decoder.push(id);
            }

            @Override
            public String finish() { return decoder.finish(); }
        };
        Sampler sampler = new Sampler(options.temperature(), options.topK(), options.topP(), options.seed());
        Generator.Settings settings = new Generator.Settings(options.maxTokens(), engine.stopTokenIds(), options.stop(),
                options.context());
        Generator.Result r;
        int prefix = reusePrefix ? commonPrefix(promptTokens) : 0;
        int context = options.context() > 0 ? options.context() : engine.config().maxPositions();
        // the cache arrays stop doubling at the sequence's end: they never hold more than max(what they hold, this)
        int end = (int) Math.min(context, (long) promptTokens.length + options.maxTokens());
        if (prefix > 0 && promptTokens.length < context) {
            held.truncate(prefix);
            held.limitGrowth(Math.max(1, end));
            last = held;
            reused = prefix;
            r = Generator.generate(engine.config(), held, prefix, promptTokens, sampler, settings, stream, sink);
        } else {
            held = null;
            heldTokens = null;
            // with reuse, room for the whole context: a later turn goes on in this cache (which grows as needed)
            InferenceSession.Factory open = c -> {
                InferenceSession s = sessions.open(reusePrefix ? Math.max(c, context) : c);
                s.limitGrowth(Math.max(1, c));
                return s;
            };
            r = Generator.generate(engine.config(), open, promptTokens, sampler, settings, stream, sink);
        }
        if (reusePrefix && last instanceof InferenceSession.Single single) {
            held = single;
            int n = single.size();
            heldTokens = new int[n];
            System.arraycopy(promptTokens, 0, heldTokens, 0, Math.min(n, promptTokens.length));
            if (n > promptTokens.length) System.arraycopy(r.tokens(), 0, heldTokens, promptTokens.length, n - promptTokens.length);
        }
        return new Completion(r.text(), r.tokens(), r.promptTokens(), r.stopReason(), r.prefillTokensPerSecond(),
                r.decodeTokensPerSecond());
    }

    /** Answers a conversation rendered with the model's chat template (generation prompt appended). */
    public Completion chat(List<ChatMessage> messages, GenerateOptions options) {
        return chat(messages, options, null);
    }

    /** As {@link #chat(List, GenerateOptions)}, streaming text pieces to {@code onText} (see {@link #generate}). */
    public Completion chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        return generate(engine.chatTokens(messages), options, onText);
    }

    /**
     * Appends {@code tokens} to this session's sequence and returns their logits, {@code [tokens.length, vocab]}: for
     * a fresh session the same numbers, bit for bit, as {@code bin/moice forward} writes for these tokens. The first
     * call sizes the sequence for the model's context (or the block, when longer); the KV cache grows as needed.
     */
    public Logits forward(int[] tokens) {
        int vocab = engine.config().vocabSize();
        if (tokens.length == 0) return new Logits(0, vocab, new float[0]);
        if (current == null) current = sessions.open(Math.max(engine.config().maxPositions(), tokens.length));
        if (current.size() + tokens.length > current.capacity())
            throw new MoiceException("the session holds " + current.size() + " positions; " + tokens.length
                    + " more exceed its capacity of " + current.capacity());
        return new Logits(tokens.length, vocab, current.forward(tokens, tokens.length));
    }

    /**
     * The routing decisions of the last sequence this session ran (the last {@link #generate}/{@link #chat}, or the
     * {@link #forward} calls since the last reset), counted per layer, head and expert. Empty unless the session was
     * opened with {@link SessionOptions#recordRouting()} and runs a MoICE-family method ({@link Method#routes()}:
     * moice, equal, random), or before anything ran.
     */
    public Optional<RoutingCounts> routing() {
        RoutingLog log = routingLog();
        if (log == null) return Optional.empty();
        RoutingStats stats = RoutingStats.of(log);
        int layers = log.numLayers(), heads = log.numHeads(), experts = log.numExperts();
        int[] positions = new int[layers];
        long[][][] selected = new long[layers][heads][experts];
        double[][][] weightSums = new double[layers][heads][experts];
        for (int l = 0; l < layers; l++) {
            positions[l] = stats.positions(l);
            for (int h = 0; h < heads; h++)
                for (int e = 0; e < experts; e++) {
                    selected[l][h][e] = stats.selected(l, h, e);
                    weightSums[l][h][e] = stats.weightSum(l, h, e);
                }
        }
        double[] bases = Methods.routers(method, engine.config()).orElseThrow().bases();
        return Optional.of(new RoutingCounts(bases.clone(), log.topK(), positions, selected, weightSums));
    }

    /**
     * The routing decisions of the last sequence this session ran, position by position (see {@link #routing()} for
     * which sequence and when it is empty).
     */
    public Optional<RoutingTrace> routingTrace() {
        RoutingLog log = routingLog();
        if (log == null) return Optional.empty();
        int layers = log.numLayers(), heads = log.numHeads(), k = log.topK();
        int[] positions = new int[layers];
        int[][] experts = new int[layers][];
        float[][] weights = new float[layers][];
        for (int l = 0; l < layers; l++) {
            int n = log.positions(l);
            positions[l] = n;
            experts[l] = new int[n * heads * k];
            weights[l] = new float[n * heads * k];
            for (int p = 0; p < n; p++)
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(log.experts(l, p, h), 0, experts[l], (p * heads + h) * k, k);
                    System.arraycopy(log.weights(l, p, h), 0, weights[l], (p * heads + h) * k, k);
                }
        }
        double[] bases = Methods.routers(method, engine.config()).orElseThrow().bases();
        return Optional.of(new RoutingTrace(bases.clone(), k, heads, positions, experts, weights));
    }

    private RoutingLog routingLog() {
        if (!(last instanceof InferenceSession.Single single)
                || !(single.attentionState() instanceof MoiceAttention.State state)) return null;
        return state.routingLog();
    }

    /**
     * How many leading tokens of {@code tokens} this session holds in its cache from its last generation (at most
     * {@code tokens.length - 1}: one token at least must run to give logits); 0 without prefix reuse.
     */
    public int commonPrefix(int[] tokens) {
        if (held == null) return 0;
        int n = Math.min(Math.min(held.size(), heldTokens.length), tokens.length - 1), i = 0;
        while (i < n && heldTokens[i] == tokens[i]) i++;
        return i;
    }

    /** Prompt tokens of the last generation taken from the cache instead of computed (0 without prefix reuse). */
    public int reusedPrefix() { return reused; }

    /** Positions in this session's sequence (what {@link #forward} has fed since the last reset). */
    public int size() { return current == null ? 0 : current.size(); }

    /**
     * Empties the sequence: the next {@link #forward} starts at position 0. Drops every cache the session holds (the
     * cached prefix too; {@link #routing()} is then empty), so an idle session costs no cache memory.
     */
    public void reset() {
        current = null;
        held = null;
        heldTokens = null;
        last = null;
    }

    /**
     * Bytes of KV cache this session holds now: the arrays of its current sequence, of the last generation's (kept
     * for {@link #routing()}, and for prefix reuse) — all of an Attention Buckets ensemble's caches. 0 after
     * {@link #reset}. A generation of {@code n} positions grows this to at most
     * {@code max(cacheBytes(), n × kvBytesPerPosition())}.
     */
    public long cacheBytes() {
        long b = 0;
        InferenceSession[] all = {current, last, held};
        for (int i = 0; i < all.length; i++) {
            if (all[i] == null) continue;
            boolean seen = false;
            for (int j = 0; j < i; j++) seen |= all[j] == all[i];
            if (!seen) b += all[i].cacheBytes();
        }
        return b;
    }

    /**
     * KV cache bytes one position of a sequence takes with this session's method: keys and values of every layer
     * ({@code 2 × 4 × layers × kvDim} in float32; {@link moice.model.KVCache#bytesFor} for an F16 cache), times the
     * number of passes for Attention Buckets (a cache per bucket).
     * MoICE's cache is vanilla's (its keys are rotated per base while attending, into per-thread working buffers, not
     * kept per sequence); its routing log, when recorded, is not counted.
     */
    public long kvBytesPerPosition() {
        long one = moice.model.KVCache.bytesFor(engine.config(), 1, kvCache);
        if (method instanceof Method.AttentionBuckets ab)
            return one * (ab.bases() != null ? ab.bases().length
                    : moice.model.AttentionBuckets.retrievalQaBases(engine.config().ropeTheta()).length);
        return one;
    }
}
