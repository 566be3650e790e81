package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void everyIndexRunsExactlyOnceInContiguousChunks() {
        for (int n : new int[] {1, 2, 3, 7, 64, 1000, 100_003}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            ConcurrentHashMap<Integer, Integer> chunks = new ConcurrentHashMap<>();
            Parallel.forRange(n, (lo, hi) -> {
                assertTrue(0 <= lo && lo < hi && hi <= n);
                chunks.put(lo, hi);
                for (int i = lo; i < hi; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "n=" + n + " i=" + i);
            assertTrue(chunks.size() <= Parallel.threads());
        }
        Parallel.forRange(0, (lo, hi) -> { throw new AssertionError("called for n=0"); });
    }

    @Test
    void poolSizeComesFromPropertyThenEnvironmentThenProcessors() {
        assertEquals(3, Parallel.threadCount("3", "5", 8));
        assertEquals(5, Parallel.threadCount(null, " 5 ", 8));
        assertEquals(5, Parallel.threadCount("", "5", 8));
        assertEquals(8, Parallel.threadCount(null, null, 8));
        assertEquals(1, Parallel.threadCount(null, null, 0));
        NumberFormatException e = assertThrows(NumberFormatException.class, () -> Parallel.threadCount("0", null, 8));
        assertTrue(e.getMessage().contains("moice.threads"), e.getMessage());
        e = assertThrows(NumberFormatException.class, () -> Parallel.threadCount(null, "many", 8));
        assertTrue(e.getMessage().contains("MOICE_THREADS"), e.getMessage());
    }

    @Test
    void grainSetsChunkSize() {
        ConcurrentHashMap<Integer, Integer> chunks = new ConcurrentHashMap<>();
        Parallel.forRange(103, 10, (lo, hi) -> chunks.put(lo, hi));
        assertEquals(11, chunks.size());
        for (var e : chunks.entrySet()) assertEquals(Math.min(e.getKey() + 10, 103), e.getValue());
        assertThrows(IllegalArgumentException.class, () -> Parallel.forRange(5, 0, (lo, hi) -> {}));
    }

    @Test
    void exceptionsReachTheCallerAfterAllChunksFinish() {
        AtomicLong done = new AtomicLong();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(64, 1, (lo, hi) -> {
            if (lo == 13) throw new IllegalStateException("chunk 13");
            done.incrementAndGet();
        }));
        assertEquals("chunk 13", e.getMessage());
        assertEquals(63, done.get());
        assertThrows(StackOverflowError.class, () -> Parallel.forRange(8, 1, (lo, hi) -> {
            if (lo == 7) throw new StackOverflowError();
        }));
        // the pool still works afterwards
        AtomicLong sum = new AtomicLong();
        Parallel.forRange(1000, 7, (lo, hi) -> { for (int i = lo; i < hi; i++) sum.addAndGet(i); });
        assertEquals(999L * 1000 / 2, sum.get());
    }

    @Test
    void nestedCallsRunSeriallyWithoutDeadlock() {
        AtomicLong sum = new AtomicLong();
        Parallel.forRange(16, 1, (lo, hi) -> {
            Thread outer = Thread.currentThread();
            Parallel.forRange(100, 3, (a, b) -> {
                assertSame(outer, Thread.currentThread());
                assertEquals(Math.min(a + 3, 100), b);
                for (int i = a; i < b; i++) sum.addAndGet(i);
            });
        });
        assertEquals(16L * 99 * 100 / 2, sum.get());
    }

    @Test
    void concurrentCallersFromOutsideThreadsTakeTurns() throws Exception {
        int callers = 4, rounds = 500;
        AtomicLong sum = new AtomicLong();
        Thread[] threads = new Thread[callers];
        for (int c = 0; c < callers; c++) {
            threads[c] = new Thread(() -> {
                for (int r = 0; r < rounds; r++)
                    Parallel.forRange(50, 5, (lo, hi) -> { for (int i = lo; i < hi; i++) sum.addAndGet(i); });
            });
            threads[c].start();
        }
        for (Thread t : threads) t.join(60_000);
        assertEquals((long) callers * rounds * 49 * 50 / 2, sum.get());
    }

    @Test
    void manySmallCallsAreCheap() {
        float[] a = new float[576];
        for (int i = 0; i < 20_000; i++) Parallel.forRange(a.length, (lo, hi) -> { for (int k = lo; k < hi; k++) a[k] += 1; });
        long t0 = System.nanoTime();
        int calls = 20_000;
        for (int i = 0; i < calls; i++) Parallel.forRange(a.length, (lo, hi) -> { for (int k = lo; k < hi; k++) a[k] += 1; });
        double microsPerCall = (System.nanoTime() - t0) / 1e3 / calls;
        assertEquals(40_000f, a[0]);
        assertEquals(40_000f, a[575]);
        System.out.printf("Parallel.forRange: %.2f µs per call with %d threads%n", microsPerCall, Parallel.threads());
        // generous: a shared, loaded CI machine; a broken hand-off (park/unpark per call, or a sleep) shows as ≥ 50 µs
        assertTrue(microsPerCall < 200, "µs per call " + microsPerCall);
    }
}
