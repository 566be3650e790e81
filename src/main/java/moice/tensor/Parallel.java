package moice.tensor;

import java.util.stream.IntStream;

/** TEMPORARY stand-in until the kernels branch lands (same API). */
public final class Parallel {
    private Parallel() {}

    public interface RangeBody { void run(int lo, int hi); }

    public static int threads() { return Runtime.getRuntime().availableProcessors(); }

    public static void forRange(int n, RangeBody body) {
        int chunks = Math.min(n, threads());
        if (chunks <= 1) { if (n > 0) body.run(0, n); return; }
        IntStream.range(0, chunks).parallel().forEach(c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }
}
