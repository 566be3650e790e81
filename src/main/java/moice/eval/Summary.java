package moice.eval;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Aggregates of result rows: mean score per method by depth, by length and by (length, depth); Gap (max − min of the
 * by-depth accuracies); wall time and peak memory per method. Rows without a depth count in the by-length tables only.
 */
public final class Summary {
    private final List<ResultRow> rows;
    private final List<String> methods;

    public Summary(List<ResultRow> rows) {
        this.rows = List.copyOf(rows);
        LinkedHashSet<String> m = new LinkedHashSet<>();
        for (ResultRow r : rows) m.add(r.method());
        this.methods = List.copyOf(m);
    }

    /** Methods in the order they first appear. */
    public List<String> methods() { return methods; }

    /** The depths that occur (sorted), NaN excluded. */
    public List<Double> depths() {
        TreeSet<Double> d = new TreeSet<>();
        for (ResultRow r : rows) if (!Double.isNaN(r.depth())) d.add(r.depth());
        return List.copyOf(d);
    }

    /** The lengths that occur, sorted. */
    public List<Integer> lengths() {
        TreeSet<Integer> l = new TreeSet<>();
        for (ResultRow r : rows) l.add(r.length());
        return List.copyOf(l);
    }

    /** Mean score of {@code method} by depth (over all lengths), sorted by depth. */
    public Map<Double, Double> accuracyByDepth(String method) {
        Map<Double, double[]> acc = new TreeMap<>();
        for (ResultRow r : rows)
            if (r.method().equals(method) && !Double.isNaN(r.depth())) add(acc, r.depth(), r.correct());
        return means(acc);
    }

    /** Mean score of {@code method} by length (over all depths), sorted by length. */
    public Map<Integer, Double> accuracyByLength(String method) {
        Map<Integer, double[]> acc = new TreeMap<>();
        for (ResultRow r : rows) if (r.method().equals(method)) add(acc, r.length(), r.correct());
        return means(acc);
    }

    /** Mean score of {@code method} at ({@code length}, {@code depth}); NaN when no row is there. */
    public double accuracy(String method, int length, double depth) {
        double sum = 0;
        int n = 0;
        for (ResultRow r : rows)
            if (r.method().equals(method) && r.length() == length && Double.compare(r.depth(), depth) == 0) {
                sum += r.correct();
                n++;
            }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Mean score of {@code method} over all its rows. */
    public double accuracy(String method) {
        double sum = 0;
        int n = 0;
        for (ResultRow r : rows)
            if (r.method().equals(method)) {
                sum += r.correct();
                n++;
            }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Gap = max − min of {@link #accuracyByDepth}; NaN with fewer than two depths. */
    public double gap(String method) {
        return gap(accuracyByDepth(method).values());
    }

    /** max − min of {@code values}; NaN with fewer than two. */
    public static double gap(java.util.Collection<Double> values) {
        if (values.size() < 2) return Double.NaN;
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        return hi - lo;
    }

    /** Time and memory of one method. */
    public record Efficiency(int samples, double totalSeconds, double meanSeconds, double meanPromptTokens,
                             double peakHeapMiB, double peakRssMiB) {}

    /** Time and memory of {@code method}: sums and means over its rows, peaks as the maximum over them. */
    public Efficiency efficiency(String method) {
        int n = 0;
        double seconds = 0, tokens = 0, heap = 0, rss = -1;
        for (ResultRow r : rows)
            if (r.method().equals(method)) {
                n++;
                seconds += r.seconds();
                tokens += r.promptTokens();
                heap = Math.max(heap, r.peakHeapMiB());
                rss = Math.max(rss, r.peakRssMiB());
            }
        return new Efficiency(n, seconds, n == 0 ? 0 : seconds / n, n == 0 ? 0 : tokens / n, heap, rss);
    }

    private static <K> void add(Map<K, double[]> acc, K key, double v) {
        double[] a = acc.computeIfAbsent(key, k -> new double[2]);
        a[0] += v;
        a[1]++;
    }

    private static <K> Map<K, Double> means(Map<K, double[]> acc) {
        Map<K, Double> out = new LinkedHashMap<>();
        acc.forEach((k, a) -> out.put(k, a[0] / a[1]));
        return out;
    }

    /** The Markdown report: {@code settings} lines, then the tables. */
    public String markdown(String title, List<String> settings) {
        StringBuilder sb = new StringBuilder("# ").append(title).append("\n\n");
        for (String s : settings) sb.append("- ").append(s).append('\n');
        sb.append("\nScores are means of the per-sample metric (1 = correct), in percent.\n");
        List<Double> depths = depths();
        if (!depths.isEmpty()) {
            sb.append("\n## Accuracy by depth (all lengths)\n\n| method |");
            for (double d : depths) sb.append(String.format(Locale.ROOT, " %.2f |", d));
            sb.append(" Gap |\n|---|");
            sb.append("---:|".repeat(depths.size() + 1)).append('\n');
            for (String m : methods) {
                Map<Double, Double> byDepth = accuracyByDepth(m);
                sb.append("| ").append(m).append(" |");
                for (double d : depths) sb.append(' ').append(percent(byDepth.getOrDefault(d, Double.NaN))).append(" |");
                sb.append(' ').append(percent(gap(m))).append(" |\n");
            }
        }
        List<Integer> lengths = lengths();
        sb.append("\n## Accuracy by length (all depths)\n\n| method |");
        for (int l : lengths) sb.append(' ').append(l).append(" |");
        sb.append(" all |\n|---|").append("---:|".repeat(lengths.size() + 1)).append('\n');
        for (String m : methods) {
            Map<Integer, Double> byLength = accuracyByLength(m);
            sb.append("| ").append(m).append(" |");
            for (int l : lengths) sb.append(' ').append(percent(byLength.getOrDefault(l, Double.NaN))).append(" |");
            sb.append(' ').append(percent(accuracy(m))).append(" |\n");
        }
        if (!depths.isEmpty() && lengths.size() > 1)
            for (String m : methods) {
                sb.append("\n## ").append(m).append(": length × depth\n\n| length |");
                for (double d : depths) sb.append(String.format(Locale.ROOT, " %.2f |", d));
                sb.append("\n|---:|").append("---:|".repeat(depths.size())).append('\n');
                for (int l : lengths) {
                    sb.append("| ").append(l).append(" |");
                    for (double d : depths) sb.append(' ').append(percent(accuracy(m, l, d))).append(" |");
                    sb.append('\n');
                }
            }
        sb.append("\n## Time and memory per method\n\n")
                .append("| method | samples | total s | s / sample | prompt tokens (mean) | peak heap MiB | peak RSS MiB |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|\n");
        for (String m : methods) {
            Efficiency e = efficiency(m);
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.2f | %.0f | %.0f | %s |%n", m, e.samples(),
                    e.totalSeconds(), e.meanSeconds(), e.meanPromptTokens(), e.peakHeapMiB(),
                    e.peakRssMiB() < 0 ? "n/a" : String.format(Locale.ROOT, "%.0f", e.peakRssMiB())));
        }
        sb.append("\nTime is the wall time of prefill + greedy decoding per sample (prompt building excluded). "
                + "Peak heap is the sum over the JVM heap pools of their peak occupancy while a sample ran (pools "
                + "reset before each sample): the KV cache and activations live on the heap (the weights are "
                + "memory-mapped outside it), but the figure also counts garbage not yet collected, so it is an upper "
                + "bound that depends on the heap size and collector. Peak RSS is the process's VmHWM, reset before each sample through "
                + "/proc/self/clear_refs where Linux allows it (otherwise it is the peak since the process started); "
                + "it includes the mapped weight pages that were touched.\n");
        return sb.toString();
    }

    static String percent(double v) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.1f", 100 * v);
    }
}
