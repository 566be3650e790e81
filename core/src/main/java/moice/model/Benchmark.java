package moice.model;

import moice.attention.AttentionVariant;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Whole-model speed: prefill tokens/s at given prompt lengths (logits for the last position only, as llama-bench
 * does) and decode tokens/s (one token at a time from an empty cache, like llama-bench's tg). Each figure is the
 * median of {@code repeats} runs after one warm-up run; several methods can be measured in alternation.
 */
public final class Benchmark {
    /** One measured row. */
    public record Row(String test, int tokens, double medianTokensPerSecond, double minTps, double maxTps) {}

    private Benchmark() {}

    public static List<Row> run(Model model, AttentionVariant attention, int[] prefillLengths, int decodeTokens,
                                int repeats, Consumer<String> progress) {
        return run(model.config(), InferenceSession.factory(model, attention), prefillLengths, decodeTokens, repeats,
                progress);
    }

    /** As above, for any method that opens {@link InferenceSession}s (e.g. {@link AttentionBuckets}). */
    public static List<Row> run(ModelConfig config, InferenceSession.Factory sessions, int[] prefillLengths,
                                int decodeTokens, int repeats, Consumer<String> progress) {
        return runInterleaved(config, List.of(sessions), prefillLengths, decodeTokens, 0, repeats, progress).get(0);
    }

    /**
     * Several methods side by side: for every test each method runs its warm-up, then the measured runs alternate
     * between the methods (A B C A B C …), so that a slow spell of a shared machine hits them alike. Returns the rows
     * of each method, in the order of {@code methods}. Decode starts after an untimed prefill of
     * {@code decodeContext} random tokens (0: from an empty cache), so that long-context decode can be measured.
     */
    public static List<List<Row>> runInterleaved(ModelConfig config, List<InferenceSession.Factory> methods,
                                                 int[] prefillLengths, int decodeTokens, int decodeContext,
                                                 int repeats, Consumer<String> progress) {
        List<List<Row>> rows = new ArrayList<>();
        for (int m = 0; m < methods.size(); m++) rows.add(new ArrayList<>());
        Random random = new Random(42);
        int vocab = config.vocabSize();
        for (int n : prefillLengths) {
            int[] tokens = random.ints(n, 0, vocab).toArray();
            double[][] tps = new double[methods.size()][repeats];
            for (int r = -1; r < repeats; r++)
                for (int m = 0; m < methods.size(); m++) {
                    progress.accept("method " + (m + 1) + ": prefill " + n
                            + (r < 0 ? " (warm-up)" : " run " + (r + 1) + "/" + repeats));
                    InferenceSession session = methods.get(m).open(n);
                    long t0 = System.nanoTime();
                    session.forward(tokens, 1);
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (r >= 0) tps[m][r] = n / s;
                }
            for (int m = 0; m < methods.size(); m++) rows.get(m).add(row("prefill " + n, n, tps[m]));
        }
        if (decodeTokens > 0) {
            String test = "decode " + decodeTokens + (decodeContext > 0 ? " @" + decodeContext : "");
            int[] context = random.ints(decodeContext, 0, vocab).toArray();
            double[][] tps = new double[methods.size()][repeats];
            for (int r = -1; r < repeats; r++)
                for (int m = 0; m < methods.size(); m++) {
                    progress.accept("method " + (m + 1) + ": " + test
                            + (r < 0 ? " (warm-up)" : " run " + (r + 1) + "/" + repeats));
                    InferenceSession session = methods.get(m).open(decodeContext + decodeTokens);
                    if (decodeContext > 0) session.forward(context, 1);
                    int token = 1;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < decodeTokens; i++) {
                        float[] logits = session.forward(new int[]{token}, 1);
                        token = Sampler.argmax(logits, 0, vocab);
                    }
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (r >= 0) tps[m][r] = decodeTokens / s;
                }
            for (int m = 0; m < methods.size(); m++) rows.get(m).add(row(test, decodeTokens, tps[m]));
        }
        return rows;
    }

    private static Row row(String test, int tokens, double[] tps) {
        double[] sorted = tps.clone();
        Arrays.sort(sorted);
        return new Row(test, tokens, median(tps), sorted[0], sorted[sorted.length - 1]);
    }

    /** The median of {@code values}; for an even count the mean of the middle two. */
    public static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /**
     * One line naming the machine a benchmark ran on: CPU model, cores, the vector width the Vector API picked, and
     * the CPU's SIMD flags that decide it (speed numbers mean little without them).
     */
    public static String machine() {
        String model = "unknown CPU";
        java.util.Set<String> flags = new java.util.TreeSet<>();
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals("unknown CPU")) model = line.substring(line.indexOf(':') + 1).strip();
                if (line.startsWith("flags") && flags.isEmpty())
                    for (String f : line.substring(line.indexOf(':') + 1).strip().split("\\s+"))
                        if (f.startsWith("avx") || f.equals("fma") || f.startsWith("sse4") || f.equals("f16c")) flags.add(f);
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: the model and flags stay unknown
        }
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        return String.format(java.util.Locale.ROOT, "%s, %d cores; vectors: %d-bit (%d float lanes); flags: %s", model,
                Runtime.getRuntime().availableProcessors(), lanes * 32, lanes, flags.isEmpty() ? "?" : String.join(" ", flags));
    }

    /** Peak resident memory of this process in bytes (VmHWM), or -1 where /proc is absent. */
    public static long peakRssBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }
}
