package moice.model;

import moice.attention.AttentionVariant;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching of decode steps: sequences of one {@link Model} that decode at the same time (each on its own
 * thread, e.g. one per HTTP request) hand their single-token steps to this batcher, and one scheduler thread runs the
 * steps that are waiting as one {@link Model#decodeBatch} — the weights are read once per step for all of them instead
 * of once per sequence. Sequences join and leave between steps. Every sequence gets exactly the logits it would get
 * alone ({@link Model#decodeBatch} is bit for bit the one-token {@link Model#forward}), so batching changes no answer.
 *
 * <p>A step waits until as many sequences are waiting as ran in the previous batch (they are coming back with their
 * next token), or at most {@link #GATHER_NANOS} after the first one arrived: a sequence that ended does not hold the
 * others up for longer than that. At most {@code maxBatch} steps run together.
 *
 * <p><b>Chunked prefill.</b> A sequence's prompt ({@link #prefill}) runs on the same scheduler, in chunks of at most
 * {@code chunk} tokens, one chunk after each decode batch: while a long prompt is prefilled the sequences that
 * decode keep getting a token per chunk instead of waiting for the whole prompt. Several prompts waiting take turns,
 * a chunk each. A chunk runs as {@link Model#forward} of those tokens on the sequence's cache, so the logits are those
 * of a one-shot prefill within rounding (other block boundaries; the bound of {@code Bounds.forwardPass}), not bit for
 * bit. Attention that needs its whole prompt at once ({@link AttentionVariant#needsWholeBlock}, Ms-PoE's head ranking
 * at the first block) runs its prompt as one chunk.
 *
 * <p>Thread-safe. The scheduler is a daemon thread started on first use; {@link #close()} stops it.
 */
public final class DecodeBatcher implements AutoCloseable {
    /** How long a step waits for the rest of the previous batch to come back. */
    static final long GATHER_NANOS = TimeUnit.MILLISECONDS.toNanos(3);

    private record Step(int token, KVCache cache, AttentionVariant attention, AttentionVariant.State state,
                        CompletableFuture<float[]> logits) {}

    /** A prompt being prefilled: {@code tokens[done..]} are still to run; the last {@code logitsCount} give logits. */
    private static final class Prefill {
        final int[] tokens;
        final int chunk, logitsCount;
        final KVCache cache;
        final AttentionVariant attention;
        final AttentionVariant.State state;
        final float[] logits;
        final java.util.function.BooleanSupplier cancelled;
        final CompletableFuture<float[]> result = new CompletableFuture<>();
        int done;

        Prefill(int[] tokens, int chunk, KVCache cache, AttentionVariant attention, AttentionVariant.State state,
                int logitsCount, int vocab, java.util.function.BooleanSupplier cancelled) {
            this.cancelled = cancelled;
            this.tokens = tokens;
            this.chunk = chunk;
            this.cache = cache;
            this.attention = attention;
            this.state = state;
            this.logitsCount = logitsCount;
            this.logits = new float[logitsCount * vocab];
        }
    }

    private final Model model;
    private final int maxBatch;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final List<Step> waiting = new ArrayList<>();
    private final java.util.ArrayDeque<Prefill> prefills = new java.util.ArrayDeque<>();
    private long prefillChunks;
    private long firstArrival;
    private int lastBatch;
    private Thread scheduler;
    private boolean closed;
    private long batches, steps;

    /** A batcher for {@code model}, running at most {@code maxBatch} steps together. */
    public DecodeBatcher(Model model, int maxBatch) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be at least 1, got " + maxBatch);
        this.model = model;
        this.maxBatch = maxBatch;
    }

    public Model model() { return model; }

    /**
     * Runs {@code token} at position {@code cache.size()} of the sequence ({@code cache}, {@code attention},
     * {@code state}) together with whatever other sequences step now, and returns its next-token logits
     * {@code [vocab]}. Blocks until its batch has run. The caller must not touch the sequence meanwhile.
     */
    public float[] step(int token, KVCache cache, AttentionVariant attention, AttentionVariant.State state) {
        CompletableFuture<float[]> result = new CompletableFuture<>();
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the decode batcher is closed");
            if (waiting.isEmpty()) firstArrival = System.nanoTime();
            waiting.add(new Step(token, cache, attention, state, result));
            if (scheduler == null) {
                scheduler = Thread.ofPlatform().daemon().name("moice-decode-batcher").start(this::run);
            }
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        return await(result, "a decode step");
    }

    /**
     * Runs {@code tokens} at positions {@code [cache.size(), cache.size() + tokens.length)} of the sequence
     * ({@code cache}, {@code attention}, {@code state}) in chunks of at most {@code chunk} tokens, each scheduled after
     * a decode batch of the other sequences, and returns the logits of the last {@code logitsCount} tokens,
     * {@code [logitsCount, vocab]}. Blocks until the whole prompt has run. The caller must not touch the sequence
     * meanwhile. {@code chunk} &lt; 1: the whole prompt as one chunk.
     */
    public float[] prefill(int[] tokens, int chunk, KVCache cache, AttentionVariant attention,
                           AttentionVariant.State state, int logitsCount) {
        return prefill(tokens, chunk, cache, attention, state, logitsCount, () -> false);
    }

    /**
     * As above; {@code cancelled} is asked before each chunk, and once it answers true no further chunk runs and
     * this method throws {@link java.util.concurrent.CancellationException}. The sequence then holds the chunks
     * that ran (its cache is not rolled back): the caller discards or truncates it.
     */
    public float[] prefill(int[] tokens, int chunk, KVCache cache, AttentionVariant attention,
                           AttentionVariant.State state, int logitsCount, java.util.function.BooleanSupplier cancelled) {
        if (logitsCount < 0 || logitsCount > tokens.length) throw new IllegalArgumentException("logitsCount " + logitsCount);
        if (tokens.length == 0) return new float[0];
        Prefill p = new Prefill(tokens.clone(), chunk < 1 ? tokens.length : chunk, cache, attention, state,
                logitsCount, model.config().vocabSize(), cancelled);
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the decode batcher is closed");
            prefills.addLast(p);
            if (scheduler == null) {
                scheduler = Thread.ofPlatform().daemon().name("moice-decode-batcher").start(this::run);
            }
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        return await(p.result, "a prefill");
    }

    private static float[] await(CompletableFuture<float[]> result, String what) {
        try {
            return result.get();
        } catch (java.util.concurrent.CancellationException e) {
            // get() wraps the exception a cancelled prefill completed with: pass on the one that says where it stopped
            throw e.getCause() instanceof java.util.concurrent.CancellationException c ? c : e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + what, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * Batches run so far, steps in them (their ratio is the mean batch size), and prefill chunks run (each after a
     * batch, when one was waiting).
     */
    public long[] counts() {
        lock.lock();
        try {
            return new long[]{batches, steps, prefillChunks};
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        while (true) {
            List<Step> batch = null;
            Prefill prefill = null;
            lock.lock();
            try {
                while (!closed && waiting.isEmpty() && prefills.isEmpty()) arrived.awaitUninterruptibly();
                if (closed && waiting.isEmpty() && prefills.isEmpty()) return;
                if (!waiting.isEmpty()) {
                    // gather: the rest of the previous batch is on its way back with its next tokens
                    long deadline = firstArrival + GATHER_NANOS;
                    while (!closed && waiting.size() < Math.min(maxBatch, lastBatch)) {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) break;
                        try {
                            arrived.awaitNanos(left);
                        } catch (InterruptedException e) {
                            break;
                        }
                    }
                    int n = Math.min(maxBatch, waiting.size());
                    batch = new ArrayList<>(waiting.subList(0, n));
                    waiting.subList(0, n).clear();
                    if (!waiting.isEmpty()) firstArrival = System.nanoTime();
                    lastBatch = n;
                    batches++;
                    steps += n;
                }
                // then one chunk of the prompt whose turn it is (it goes to the back if more is left)
                prefill = prefills.pollFirst();
                if (prefill != null) prefillChunks++;
            } finally {
                lock.unlock();
            }
            if (batch != null) runBatch(batch);
            if (prefill != null && runChunk(prefill)) {
                lock.lock();
                try {
                    prefills.addLast(prefill);
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /** Runs the next chunk of {@code p}; true when more is left. */
    private boolean runChunk(Prefill p) {
        int n = p.tokens.length, b = p.done, vocab = model.config().vocabSize();
        if (p.cancelled.getAsBoolean()) {
            p.result.completeExceptionally(new java.util.concurrent.CancellationException(
                    "prefill cancelled after " + b + " of " + n + " tokens"));
            return false;
        }
        int T = p.attention.needsWholeBlock(p.cache.size()) ? n - b : Math.min(p.chunk, n - b);
        int firstWithLogits = n - p.logitsCount;
        int from = Math.max(firstWithLogits - b, 0);
        int want = from < T ? T - from : 0;
        try {
            float[] l = model.forward(java.util.Arrays.copyOfRange(p.tokens, b, b + T), p.cache, p.attention, p.state,
                    want);
            if (want > 0) System.arraycopy(l, 0, p.logits, (b + from - firstWithLogits) * vocab, want * vocab);
        } catch (RuntimeException | Error e) {
            p.result.completeExceptionally(e);
            return false;
        }
        p.done = b + T;
        if (p.done < n) return true;
        p.result.complete(p.logits);
        return false;
    }

    private void runBatch(List<Step> batch) {
        int B = batch.size(), vocab = model.config().vocabSize();
        int[] tokens = new int[B];
        KVCache[] caches = new KVCache[B];
        AttentionVariant[] attention = new AttentionVariant[B];
        AttentionVariant.State[] states = new AttentionVariant.State[B];
        for (int b = 0; b < B; b++) {
            Step s = batch.get(b);
            tokens[b] = s.token();
            caches[b] = s.cache();
            attention[b] = s.attention();
            states[b] = s.state();
        }
        float[] logits;
        try {
            logits = model.decodeBatch(tokens, caches, attention, states);
        } catch (RuntimeException | Error e) {
            // a bad token or a full cache of one sequence: rerun them one by one so that only that one fails
            if (B == 1) {
                batch.getFirst().logits().completeExceptionally(e);
                return;
            }
            for (Step s : batch) runBatch(List.of(s));
            return;
        }
        for (int b = 0; b < B; b++)
            batch.get(b).logits().complete(java.util.Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab));
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
