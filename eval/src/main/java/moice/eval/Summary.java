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

    /** The per-sample values the statistics are taken over. */
    public enum Measure {
        /** The task metric (1 = correct), shown in percent. */
        ACCURACY("accuracy", "%", ResultRow::correct, 100),
        /** Log-likelihood of the gold answer (nats, summed over its tokens). */
        LOGLIK("log-likelihood", "nats", ResultRow::loglik, 1),
        /** Log-likelihood of the gold answer per answer token (nats). */
        LOGLIK_PER_TOKEN("log-likelihood per token", "nats", ResultRow::loglikPerToken, 1);

        public final String label, unit;
        final java.util.function.ToDoubleFunction<ResultRow> value;
        /** Factor from the stored value to the shown one (accuracy in percent). */
        public final double scale;

        Measure(String label, String unit, java.util.function.ToDoubleFunction<ResultRow> value, double scale) {
            this.label = label;
            this.unit = unit;
            this.value = value;
            this.scale = scale;
        }

        public double of(ResultRow r) {
            return value.applyAsDouble(r);
        }
    }

    /** Whether any row carries a log-likelihood ({@code --score loglik}). */
    public boolean hasLoglik() {
        for (ResultRow r : rows) if (!Double.isNaN(r.loglik())) return true;
        return false;
    }

    private double[] values(String method, Measure measure, java.util.function.Predicate<ResultRow> where) {
        return rows.stream().filter(r -> r.method().equals(method) && where.test(r)).mapToDouble(measure::of)
                .filter(v -> !Double.isNaN(v)).toArray();
    }

    /** Mean of {@code measure} over all rows of {@code method}, with its 95 % bootstrap interval. */
    public Stats.Interval interval(String method, Measure measure) {
        return Stats.bootstrapMean(values(method, measure, r -> true));
    }

    /** Mean of {@code measure} per depth (sorted) over all lengths, with 95 % bootstrap intervals. */
    public Map<Double, Stats.Interval> intervalByDepth(String method, Measure measure) {
        Map<Double, Stats.Interval> out = new LinkedHashMap<>();
        for (double d : depths()) {
            double[] v = values(method, measure, r -> Double.compare(r.depth(), d) == 0);
            if (v.length > 0) out.put(d, Stats.bootstrapMean(v));
        }
        return out;
    }

    /** Whether {@code label} names a baseline the others are compared with: vanilla, or equal (equal weights). */
    public static boolean isBaseline(String label) {
        return label.startsWith("vanilla") || label.startsWith("equal");
    }

    /**
     * The methods paired against {@code base}: all others but the baselines listed before it (equal − vanilla is
     * shown, vanilla − equal would repeat it with the sign flipped).
     */
    private List<String> comparedWith(String base, List<String> baselines) {
        return methods.stream().filter(m -> !m.equals(base)
                && !(isBaseline(m) && baselines.indexOf(m) < baselines.indexOf(base))).toList();
    }

    /** Baselines among the methods, in order. */
    public List<String> baselines() {
        return methods.stream().filter(Summary::isBaseline).toList();
    }

    /**
     * {@code method} − {@code baseline} on {@code measure}, paired by (task, length, depth, sample) over the pairs
     * where both have a value and {@code where} holds; null when there is no pair.
     */
    public Stats.Paired paired(String method, String baseline, Measure measure,
                               java.util.function.Predicate<ResultRow> where) {
        Map<String, Double> base = new java.util.HashMap<>();
        for (ResultRow r : rows)
            if (r.method().equals(baseline) && where.test(r) && !Double.isNaN(measure.of(r)))
                base.put(r.pairKey(), measure.of(r));
        List<double[]> pairs = new java.util.ArrayList<>();
        for (ResultRow r : rows)
            if (r.method().equals(method) && where.test(r) && !Double.isNaN(measure.of(r)) && base.containsKey(r.pairKey()))
                pairs.add(new double[]{measure.of(r), base.get(r.pairKey())});
        if (pairs.isEmpty()) return null;
        double[] a = new double[pairs.size()], b = new double[pairs.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = pairs.get(i)[0];
            b[i] = pairs.get(i)[1];
        }
        return Stats.paired(a, b);
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
        boolean loglik = hasLoglik();
        sb.append("\nScores are means of the per-sample metric (1 = correct), in percent.");
        if (loglik)
            sb.append(" Scored by log-likelihood (no decoding): log-likelihoods are natural-log probabilities of the "
                    + "gold answer's tokens given the prompt (nats; higher is better); L-Eval options count as correct "
                    + "when the gold option is the most likely one, other tasks when every answer token is the "
                    + "model's argmax (greedy agreement).");
        sb.append(" Intervals in brackets are 95 % percentile bootstrap intervals of the mean (")
                .append(String.format(Locale.ROOT, "%,d", Stats.RESAMPLES)).append(" resamples, fixed seed); n is the "
                        + "number of samples behind a number. Comparisons pair the rows of two methods that share "
                        + "task, length, depth and sample (the same prompt); accuracies are tested with exact McNemar "
                        + "(binomial on the discordant pairs), partial-credit scores and log-likelihoods with the "
                        + "sign-flip permutation test (exact up to " + Stats.EXACT_FLIP_LIMIT + " pairs); * marks p < 0.05.\n");
        List<Measure> measures = loglik ? List.of(Measure.ACCURACY, Measure.LOGLIK, Measure.LOGLIK_PER_TOKEN)
                : List.of(Measure.ACCURACY);

        sb.append("\n## Per method (all lengths and depths)\n\n| method | n |");
        for (Measure m : measures) sb.append(' ').append(m.label).append(" (").append(m.unit).append(") |");
        sb.append("\n|---|---:|").append("---:|".repeat(measures.size())).append('\n');
        for (String m : methods) {
            sb.append("| ").append(m).append(" | ").append(efficiency(m).samples()).append(" |");
            for (Measure x : measures) {
                Stats.Interval ci = interval(m, x);
                sb.append(' ').append(format(ci, x)).append(ci.n() == efficiency(m).samples() ? "" : " (n=" + ci.n() + ")")
                        .append(" |");
            }
            sb.append('\n');
        }

        List<Measure> tested = loglik ? List.of(Measure.ACCURACY, Measure.LOGLIK) : List.of(Measure.ACCURACY);
        List<String> baselines = baselines();
        for (String base : baselines) {
            List<String> others = comparedWith(base, baselines);
            if (others.isEmpty()) continue;
            sb.append("\n## Paired difference: method − ").append(base).append(" (all lengths and depths)\n\n| method | pairs n |");
            for (Measure x : tested)
                sb.append(" Δ ").append(x.label).append(x == Measure.ACCURACY ? " (points)" : " (" + x.unit + ")")
                        .append(" | ").append(x == Measure.ACCURACY ? "only method / only " + base + " right | " : "")
                        .append("p | |");
            sb.append("\n|---|---:|");
            for (Measure x : tested) sb.append(x == Measure.ACCURACY ? "---:|---:|---:|---|" : "---:|---:|---|");
            sb.append('\n');
            for (String m : others) {
                Stats.Paired first = paired(m, base, tested.getFirst(), r -> true);
                sb.append("| ").append(m).append(" | ").append(first == null ? 0 : first.n()).append(" |");
                for (Measure x : tested) {
                    Stats.Paired p = paired(m, base, x, r -> true);
                    if (p == null) {
                        sb.append(x == Measure.ACCURACY ? " – | – | – | |" : " – | – | |");
                        continue;
                    }
                    sb.append(' ').append(formatDifference(p.difference(), x))
                            .append(p.n() == first.n() ? "" : " (n=" + p.n() + ")").append(" |");
                    if (x == Measure.ACCURACY) sb.append(' ').append(p.onlyA()).append(" / ").append(p.onlyB()).append(" |");
                    sb.append(' ').append(formatP(p.p())).append(" ").append(shortTest(p.test())).append(" | ")
                            .append(p.significant() ? "*" : "").append(" |");
                }
                sb.append('\n');
            }
        }

        List<Double> depths = depths();
        if (!depths.isEmpty()) {
            for (Measure x : loglik ? List.of(Measure.ACCURACY, Measure.LOGLIK) : List.of(Measure.ACCURACY)) {
                Map<String, Map<Double, Stats.Interval>> table = new LinkedHashMap<>();
                for (String m : methods) table.put(m, intervalByDepth(m, x));
                Integer n = commonN(table.values().stream().flatMap(t -> t.values().stream()).toList());
                sb.append("\n## ").append(capitalised(x.label)).append(" by depth (all lengths")
                        .append(n != null ? "; n = " + n + " per cell" : "").append(")\n\n| method |");
                for (double d : depths) sb.append(String.format(Locale.ROOT, " %.2f |", d));
                if (x == Measure.ACCURACY) sb.append(" Gap |");
                sb.append("\n|---|").append("---:|".repeat(depths.size() + (x == Measure.ACCURACY ? 1 : 0))).append('\n');
                for (String m : methods) {
                    sb.append("| ").append(m).append(" |");
                    for (double d : depths) {
                        Stats.Interval ci = table.get(m).get(d);
                        sb.append(' ').append(ci == null ? "–" : format(ci, x) + (n == null ? " n=" + ci.n() : "")).append(" |");
                    }
                    if (x == Measure.ACCURACY) sb.append(' ').append(percent(gap(m))).append(" |");
                    sb.append('\n');
                }
                for (String base : baselines) {
                    List<String> others = comparedWith(base, baselines);
                    if (others.isEmpty()) continue;
                    pairedTable(sb, x, base, others, "depth", depths.stream().map(d -> String.format(Locale.ROOT, "%.2f", d)).toList(),
                            depths.stream().<java.util.function.Predicate<ResultRow>>map(d -> r -> Double.compare(r.depth(), d) == 0).toList(),
                            n == null);
                }
            }
        }

        List<Integer> lengths = lengths();
        for (Measure x : loglik ? List.of(Measure.ACCURACY, Measure.LOGLIK) : List.of(Measure.ACCURACY)) {
            Map<String, Map<Integer, Stats.Interval>> byLength = new LinkedHashMap<>();
            for (String m : methods) {
                Map<Integer, Stats.Interval> t = new LinkedHashMap<>();
                for (int l : lengths) {
                    double[] v = values(m, x, r -> r.length() == l);
                    if (v.length > 0) t.put(l, Stats.bootstrapMean(v));
                }
                byLength.put(m, t);
            }
            Integer nl = commonN(byLength.values().stream().flatMap(t -> t.values().stream()).toList());
            sb.append("\n## ").append(capitalised(x.label)).append(" by length (all depths")
                    .append(nl != null ? "; n = " + nl + " per cell" : "").append(")\n\n| method |");
            for (int l : lengths) sb.append(' ').append(l).append(" |");
            sb.append("\n|---|").append("---:|".repeat(lengths.size())).append('\n');
            for (String m : methods) {
                sb.append("| ").append(m).append(" |");
                for (int l : lengths) {
                    Stats.Interval ci = byLength.get(m).get(l);
                    sb.append(' ').append(ci == null ? "–" : format(ci, x) + (nl == null ? " n=" + ci.n() : "")).append(" |");
                }
                sb.append('\n');
            }
            // effects can change sign with the length (mixing bases costs at 1K and helps at 2K on SmolLM2), so a
            // comparison pooled over lengths is not enough: the paired differences per length too
            if (x == Measure.LOGLIK && lengths.size() > 1)
                for (String base : baselines) {
                    List<String> others = comparedWith(base, baselines);
                    if (others.isEmpty()) continue;
                    pairedTable(sb, x, base, others, "length", lengths.stream().map(String::valueOf).toList(),
                            lengths.stream().<java.util.function.Predicate<ResultRow>>map(l -> r -> r.length() == l).toList(),
                            nl == null);
                }
        }
        if (!depths.isEmpty() && lengths.size() > 1)
            for (String m : methods) {
                sb.append("\n## ").append(m).append(": length × depth (accuracy %, n per cell in parentheses)\n\n| length |");
                for (double d : depths) sb.append(String.format(Locale.ROOT, " %.2f |", d));
                sb.append("\n|---:|").append("---:|".repeat(depths.size())).append('\n');
                for (int l : lengths) {
                    sb.append("| ").append(l).append(" |");
                    for (double d : depths) {
                        int cell = count(m, l, d);
                        sb.append(' ').append(percent(accuracy(m, l, d))).append(cell == 0 ? "" : " (" + cell + ")").append(" |");
                    }
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
        sb.append("\nTime is the wall time per sample of prefill + greedy decoding (or, scored by log-likelihood, of "
                + "the prompt and answer passes; prompt building excluded). "
                + "Peak heap is the sum over the JVM heap pools of their peak occupancy while a sample ran (pools "
                + "reset before each sample): the KV cache and activations live on the heap (the weights are "
                + "memory-mapped outside it), but the figure also counts garbage not yet collected, so it is an upper "
                + "bound that depends on the heap size and collector. Peak RSS is the process's VmHWM, reset before each sample through "
                + "/proc/self/clear_refs where Linux allows it (otherwise it is the peak since the process started); "
                + "it includes the mapped weight pages that were touched.\n");
        return sb.toString();
    }

    private int count(String method, int length, double depth) {
        int n = 0;
        for (ResultRow r : rows)
            if (r.method().equals(method) && r.length() == length && Double.compare(r.depth(), depth) == 0) n++;
        return n;
    }

    /** The n shared by all {@code intervals}, or null when they differ (then every cell states its own). */
    private static Integer commonN(List<Stats.Interval> intervals) {
        Integer n = null;
        for (Stats.Interval ci : intervals) {
            if (n == null) n = ci.n();
            else if (n != ci.n()) return null;
        }
        return n;
    }

    private static String capitalised(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    /**
     * "### Measure: method − base by GROUP, paired" with one column per cell: each method's paired difference against
     * {@code base} on the rows {@code cells.get(i)} selects, its p-value, a star when significant, and its n when the
     * cells differ in size.
     */
    private void pairedTable(StringBuilder sb, Measure x, String base, List<String> others, String group,
                             List<String> headers, List<java.util.function.Predicate<ResultRow>> cells, boolean showN) {
        sb.append("\n### ").append(capitalised(x.label)).append(": method − ").append(base).append(" by ").append(group)
                .append(", paired (Δ [95 % CI], p; * p < 0.05)\n\n| method |");
        for (String h : headers) sb.append(' ').append(h).append(" |");
        sb.append("\n|---|").append("---:|".repeat(headers.size())).append('\n');
        for (String m : others) {
            sb.append("| ").append(m).append(" |");
            for (var cell : cells) {
                Stats.Paired p = paired(m, base, x, cell);
                sb.append(' ').append(p == null ? "–" : formatDifference(p.difference(), x) + " p=" + formatP(p.p())
                        + (p.significant() ? " *" : "") + (showN ? " n=" + p.n() : "")).append(" |");
            }
            sb.append('\n');
        }
    }

    /** "mean [lower, upper]" in the measure's shown unit. */
    static String format(Stats.Interval ci, Measure m) {
        if (ci.n() == 0) return "–";
        String f = m == Measure.ACCURACY ? "%.1f [%.1f, %.1f]" : "%.3f [%.3f, %.3f]";
        return String.format(Locale.ROOT, f, m.scale * ci.mean(), m.scale * ci.lower(), m.scale * ci.upper());
    }

    /**
     * A difference with explicit signs: "+5.0 [-10.0, +20.0]". Log-likelihood differences get at least 3 decimals and
     * as many more as the interval's larger end needs for 2 significant digits (at most 8), so that a tiny but
     * significant difference reads "+0.00009 [+0.00005, +0.00013]" and not "+0.000 [+0.000, +0.000] *".
     */
    static String formatDifference(Stats.Interval ci, Measure m) {
        int decimals = m == Measure.ACCURACY ? 1 : differenceDecimals(Math.max(Math.abs(ci.lower()), Math.abs(ci.upper())));
        String f = "%+." + decimals + "f [%+." + decimals + "f, %+." + decimals + "f]";
        return String.format(Locale.ROOT, f, m.scale * ci.mean(), m.scale * ci.lower(), m.scale * ci.upper());
    }

    static int differenceDecimals(double largest) {
        if (!(largest > 0) || Double.isInfinite(largest)) return 3;
        return Math.clamp(1 - (int) Math.floor(Math.log10(largest)), 3, 8);
    }

    static String formatP(double p) {
        return p >= 0.001 ? String.format(Locale.ROOT, "%.3f", p) : String.format(Locale.ROOT, "%.1e", p);
    }

    private static String shortTest(String test) {
        return test.startsWith("McNemar") ? "(McNemar)" : "(sign-flip)";
    }

    static String percent(double v) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.1f", 100 * v);
    }
}
