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
 * <p>Thread-safe. The scheduler is a daemon thread started on first use; {@link #close()} stops it.
 */
public final class DecodeBatcher implements AutoCloseable {
    /** How long a step waits for the rest of the previous batch to come back. */
    static final long GATHER_NANOS = TimeUnit.MILLISECONDS.toNanos(3);

    private record Step(int token, KVCache cache, AttentionVariant attention, AttentionVariant.State state,
                        CompletableFuture<float[]> logits) {}

    private final Model model;
    private final int maxBatch;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final List<Step> waiting = new ArrayList<>();
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
        try {
            return result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a decode step", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Batches run so far, and steps in them (their ratio is the mean batch size). */
    public long[] counts() {
        lock.lock();
        try {
            return new long[]{batches, steps};
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        while (true) {
            List<Step> batch;
            lock.lock();
            try {
                while (!closed && waiting.isEmpty()) arrived.awaitUninterruptibly();
                if (closed && waiting.isEmpty()) return;
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
            } finally {
                lock.unlock();
            }
            runBatch(batch);
        }
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
