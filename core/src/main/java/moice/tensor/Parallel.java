package moice.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One shared, fixed pool of worker threads for data-parallel loops.
 *
 * <p>Size: system property {@code moice.threads}, else environment variable {@code MOICE_THREADS}, else
 * {@link Runtime#availableProcessors()}. The calling thread is one of the {@link #threads()} participants, so the pool
 * starts {@code threads() - 1} daemon workers.
 *
 * <p>Decode calls this a few hundred times per token, so a call is cheap: workers spin briefly on the published job
 * before parking, chunks are claimed with one atomic increment, and the caller runs chunks itself instead of waiting.
 * Calls made from inside a running body (nested) run serially on the calling thread; concurrent calls from
 * different outside threads take turns.
 */
public final class Parallel {
    /** A piece of a loop: handles the indices {@code [lo, hi)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    private static final int THREADS = configuredThreads();
    /**
     * How long a waiting thread spins before it parks. Longer than the gap between two matmuls of one decode step,
     * so back-to-back calls never pay for an unpark, short enough not to steal a shared core for long.
     */
    private static final long SPIN_NANOS = 100_000;

    private static final ReentrantLock CALL_LOCK = new ReentrantLock();
    private static final Worker[] WORKERS = new Worker[THREADS - 1];
    /** The job being worked on; workers compare it with the last one they saw. */
    private static volatile Job current;
    /** Set while any thread is inside a body, to make nested calls serial. */
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> Boolean.FALSE);

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker("moice-worker-" + (i + 1));
            WORKERS[i].start();
        }
    }

    private Parallel() {}

    /** Number of threads that share a loop (workers plus the caller); at least 1. */
    public static int threads() {
        return THREADS;
    }

    /** Runs {@code body} over {@code [0, n)} split into {@link #threads()} contiguous chunks of near-equal size. */
    public static void forRange(int n, RangeBody body) {
        if (n <= 0) return;
        forRange(n, (n + THREADS - 1) / THREADS, body);
    }

    /**
     * Runs {@code body} over {@code [0, n)} in contiguous chunks of {@code grain} indices (the last may be shorter),
     * claimed dynamically by the pool threads and the caller; returns when all chunks are done. The first exception
     * thrown by a chunk is rethrown here after the others finished (later ones are added as suppressed). Run serially
     * (nested, or one thread) the chunks are the same, one after another on the calling thread.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (grain <= 0) throw new IllegalArgumentException("grain " + grain);
        if (n <= 0) return;
        int chunks = (int) (((long) n + grain - 1) / grain);
        if (chunks == 1 || THREADS == 1 || INSIDE.get()) {
            for (int lo = 0; lo < n; lo += grain) body.run(lo, (int) Math.min((long) lo + grain, n));
            return;
        }
        CALL_LOCK.lock();
        try {
            Job job = new Job(body, n, grain, chunks, Thread.currentThread());
            current = job;
            for (Worker w : WORKERS) if (w.parked) LockSupport.unpark(w);
            INSIDE.set(Boolean.TRUE);
            try {
                job.work();
            } finally {
                INSIDE.set(Boolean.FALSE);
            }
            job.awaitDone();
            current = null;
            job.body = null;
            Throwable error = job.error;
            if (error instanceof RuntimeException e) throw e;
            if (error instanceof Error e) throw e;
            if (error != null) throw new RuntimeException(error);
        } finally {
            CALL_LOCK.unlock();
        }
    }

    private static int configuredThreads() {
        String property = System.getProperty("moice.threads");
        String env = System.getenv("MOICE_THREADS");
        int processors = Runtime.getRuntime().availableProcessors();
        try {
            return threadCount(property, env, processors);
        } catch (NumberFormatException e) {
            System.err.println("moice: " + e.getMessage() + "; using " + processors + " threads");
            return Math.max(1, processors);
        }
    }

    /**
     * The pool size: {@code property} if set, else {@code env} if set, else {@code processors}.
     *
     * @throws NumberFormatException if the chosen setting is not an integer ≥ 1 (message names the setting)
     */
    static int threadCount(String property, String env, int processors) {
        String name = "moice.threads", v = property;
        if (v == null || v.isBlank()) {
            name = "MOICE_THREADS";
            v = env;
        }
        if (v == null || v.isBlank()) return Math.max(1, processors);
        int t;
        try {
            t = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            t = 0;
        }
        if (t < 1) throw new NumberFormatException(name + " = '" + v + "' is not an integer >= 1");
        return t;
    }

    /** One call's loop; a worker that wakes late finds all chunks claimed and leaves it alone. */
    private static final class Job {
        /** Cleared once all chunks are done, so a worker's reference to its last job keeps no arrays alive. */
        RangeBody body;
        final int n, grain, chunks;
        final Thread caller;
        final AtomicInteger nextChunk = new AtomicInteger();
        final AtomicInteger doneChunks = new AtomicInteger();
        volatile boolean callerParked;
        volatile Throwable error;

        Job(RangeBody body, int n, int grain, int chunks, Thread caller) {
            this.body = body;
            this.n = n;
            this.grain = grain;
            this.chunks = chunks;
            this.caller = caller;
        }

        void work() {
            int c;
            while ((c = nextChunk.getAndIncrement()) < chunks) {
                int lo = c * grain, hi = (int) Math.min((long) lo + grain, n);
                try {
                    body.run(lo, hi);
                } catch (Throwable t) {
                    synchronized (this) {
                        if (error == null) error = t;
                        else if (error != t) error.addSuppressed(t);
                    }
                }
                if (doneChunks.incrementAndGet() == chunks && callerParked) LockSupport.unpark(caller);
            }
        }

        void awaitDone() {
            if (doneChunks.get() == chunks) return;
            long start = System.nanoTime();
            while (doneChunks.get() < chunks) {
                if (System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    callerParked = true;
                    while (doneChunks.get() < chunks) LockSupport.park(this);
                    callerParked = false;
                }
            }
        }
    }

    private static final class Worker extends Thread {
        volatile boolean parked;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override
        public void run() {
            INSIDE.set(Boolean.TRUE);
            Job seen = null;
            while (true) {
                Job job = current;
                long start = System.nanoTime();
                while (job == seen || job == null) {
                    if (System.nanoTime() - start < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        // re-check after announcing, so a job published meanwhile is not missed
                        Job now = current;
                        if (now == seen || now == null) LockSupport.park(this);
                        parked = false;
                        start = System.nanoTime();
                    }
                    job = current;
                }
                seen = job;
                job.work();
            }
        }
    }
}
