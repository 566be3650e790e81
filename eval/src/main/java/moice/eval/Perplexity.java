package moice.eval;

import moice.MoiceException;
import moice.io.AtomicFile;
import moice.model.InferenceSession;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Next-token negative log-likelihood by position in the context ({@code bin/moice perplexity}): a long token stream is
 * cut into windows of {@code context} tokens (every {@code stride} tokens; only whole windows), every method reads
 * every window from an empty cache, and the NLL of each predicted token (tokens 1..C−1 of the window) is averaged per
 * window over the whole window and over each of {@code buckets} equal position ranges. Windows are the unit of the
 * statistics: bootstrap intervals over windows and sign-flip tests on per-window paired differences.
 *
 * <p>Two knobs ({@link WindowScoring}) make the number comparable with llama.cpp's {@code llama-perplexity}: the
 * window mean may count only predicted tokens {@code scoreFrom..C−1} (llama-perplexity counts the second half,
 * {@code C/2+1..C−1}), and the first token of every window may be replaced by BOS (llama-perplexity does so when the
 * model's tokenizer adds BOS). The position buckets always cover tokens 1..C−1.
 */
public final class Perplexity {
    /** A method: its label and the sessions that run it. */
    public record Method(String label, InferenceSession.Factory sessions) {}

    /** One method on one window: mean NLL over the window and per bucket (NaN for an empty bucket). */
    public record Window(String method, int window, int start, double meanNll, double[] bucketNll) {}

    /**
     * Which tokens of a window count towards its mean NLL and what the window starts with.
     *
     * @param scoreFrom first predicted token index (1..C−1) counted in the window mean; 1 = the whole window
     * @param firstToken token id that replaces the window's first token (its NLL is never counted); −1 = keep it
     */
    public record WindowScoring(int scoreFrom, int firstToken) {
        /** Every predicted token counts; windows are read as they are. */
        public static final WindowScoring ALL = new WindowScoring(1, -1);

        /**
         * llama.cpp's {@code llama-perplexity} rule for a context of {@code context} tokens: the window's first token
         * becomes {@code bos} (−1 when the tokenizer adds no BOS) and only the logits at positions
         * {@code context/2..context−2} are scored, i.e. predicted tokens {@code context/2+1..context−1}.
         */
        public static WindowScoring llamaPerplexity(int context, int bos) {
            return new WindowScoring(context / 2 + 1, bos);
        }
    }

    private Perplexity() {}

    /** Start offsets of the whole windows of {@code context} tokens in a stream of {@code n} tokens. */
    public static List<Integer> windowStarts(int n, int context, int stride, int maxWindows) {
        List<Integer> starts = new ArrayList<>();
        for (int s = 0; s + context <= n && starts.size() < maxWindows; s += stride) starts.add(s);
        return starts;
    }

    /** Bucket of predicted token {@code t} (index in the window, 1..C−1): {@code t·B/C}. */
    public static int bucketOf(int t, int context, int buckets) {
        return (int) ((long) t * buckets / context);
    }

    /**
     * NLL (nats) of every token 1..C−1 of {@code window} given the tokens before it, reading the window in blocks of
     * {@code block} tokens through one session (logits of a block only, so memory stays block × vocab).
     */
    public static double[] tokenNll(InferenceSession.Factory sessions, int vocab, int[] window, int block) {
        int c = window.length;
        double[] nll = new double[c]; // nll[0] unused: the first token is not predicted
        InferenceSession session = sessions.open(c);
        for (int b = 0; b < c; b += block) {
            int n = Math.min(block, c - b);
            int[] chunk = java.util.Arrays.copyOfRange(window, b, b + n);
            float[] logits = session.forward(chunk, n);
            for (int k = 0; k < n; k++) {
                int t = b + k + 1; // row k predicts token b + k + 1
                if (t < c) nll[t] = -Scoring.logSoftmax(logits, k * vocab, vocab, window[t]);
            }
        }
        return nll;
    }

    /** Runs every method on every window, every predicted token counted; progress on {@code progress}. */
    public static List<Window> run(int[] stream, List<Method> methods, int vocab, int context, int stride, int buckets,
                                   int block, int maxWindows, PrintStream progress) {
        return run(stream, methods, vocab, context, stride, buckets, block, maxWindows, WindowScoring.ALL, progress);
    }

    /**
     * Runs every method on every window; a window's mean NLL counts the predicted tokens {@code scoring.scoreFrom()}
     * ..C−1, and its first token is replaced as {@code scoring} says. Progress on {@code progress}.
     */
    public static List<Window> run(int[] stream, List<Method> methods, int vocab, int context, int stride, int buckets,
                                   int block, int maxWindows, WindowScoring scoring, PrintStream progress) {
        if (context < 2) throw new MoiceException("--context must be at least 2 tokens, got " + context);
        if (buckets < 1 || buckets > context - 1)
            throw new MoiceException("--buckets must be in [1, " + (context - 1) + "], got " + buckets);
        if (scoring.scoreFrom() < 1 || scoring.scoreFrom() > context - 1)
            throw new MoiceException("--score-from must be in [1, " + (context - 1) + "] for --context " + context
                    + ", got " + scoring.scoreFrom());
        if (scoring.firstToken() >= vocab)
            throw new MoiceException("BOS token id " + scoring.firstToken() + " is outside the vocabulary of " + vocab);
        List<Integer> starts = windowStarts(stream.length, context, stride, maxWindows);
        if (starts.isEmpty())
            throw new MoiceException("the data has " + stream.length + " tokens, fewer than one window of --context "
                    + context);
        List<Window> out = new ArrayList<>();
        long t0 = System.nanoTime();
        int done = 0, total = starts.size() * methods.size();
        for (int w = 0; w < starts.size(); w++) {
            int[] window = java.util.Arrays.copyOfRange(stream, starts.get(w), starts.get(w) + context);
            if (scoring.firstToken() >= 0) window[0] = scoring.firstToken(); // its NLL is never counted
            for (Method m : methods) {
                double[] nll = tokenNll(m.sessions(), vocab, window, block);
                double[] sum = new double[buckets];
                int[] count = new int[buckets];
                double all = 0;
                for (int t = 1; t < context; t++) {
                    int b = bucketOf(t, context, buckets);
                    sum[b] += nll[t];
                    count[b]++;
                    if (t >= scoring.scoreFrom()) all += nll[t];
                }
                double[] bucketNll = new double[buckets];
                for (int b = 0; b < buckets; b++) bucketNll[b] = count[b] == 0 ? Double.NaN : sum[b] / count[b];
                Window row = new Window(m.label(), w, starts.get(w), all / (context - scoring.scoreFrom()), bucketNll);
                out.add(row);
                done++;
                double elapsed = (System.nanoTime() - t0) / 1e9;
                progress.printf(Locale.ROOT, "perplexity: %d/%d  %s  window %d (token %d): mean NLL %.4f  ETA %s%n",
                        done, total, m.label(), w, starts.get(w), row.meanNll(),
                        EvalRun.duration(elapsed / done * (total - done)));
            }
        }
        return out;
    }

    /** Per method, the per-window values of bucket {@code b} (−1: the whole window), in window order. */
    static Map<String, double[]> values(List<Window> rows, int b) {
        Map<String, List<Double>> m = new LinkedHashMap<>();
        for (Window w : rows) m.computeIfAbsent(w.method(), k -> new ArrayList<>()).add(b < 0 ? w.meanNll() : w.bucketNll()[b]);
        Map<String, double[]> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v.stream().mapToDouble(Double::doubleValue).toArray()));
        return out;
    }

    /** Writes windows.csv, perplexity.csv, perplexity.md and nll_by_position.png into {@code out}. */
    public static void writeReports(List<Window> rows, int context, int buckets, Path out, List<String> notes) {
        writeReports(rows, context, buckets, 1, out, notes);
    }

    /**
     * The same for windows whose mean NLL counts the predicted tokens {@code scoreFrom..C−1} (bucket {@code all} of
     * perplexity.csv names that range).
     */
    public static void writeReports(List<Window> rows, int context, int buckets, int scoreFrom, Path out,
                                    List<String> notes) {
        List<String> methods = new ArrayList<>(values(rows, -1).keySet());
        // windows.csv
        StringBuilder w = new StringBuilder("method,window,start,mean_nll");
        for (int b = 0; b < buckets; b++) w.append(",nll_bucket_").append(b);
        w.append("\r\n");
        for (Window r : rows) {
            w.append(csv(r.method())).append(',').append(r.window()).append(',').append(r.start()).append(',')
                    .append(String.format(Locale.ROOT, "%.6f", r.meanNll()));
            for (double v : r.bucketNll()) w.append(',').append(String.format(Locale.ROOT, "%.6f", v));
            w.append("\r\n");
        }
        write(out.resolve("windows.csv"), w.toString());

        // perplexity.csv: one row per method and bucket (bucket "all" = the whole window)
        StringBuilder p = new StringBuilder("method,bucket,first_token,last_token,windows,mean_nll,ci_lower,ci_upper,"
                + "perplexity,ppl_ci_lower,ppl_ci_upper\r\n");
        List<Map<Double, Stats.Interval>> series = new ArrayList<>();
        Map<String, Stats.Interval> overall = new LinkedHashMap<>();
        Map<String, List<Stats.Interval>> byBucket = new LinkedHashMap<>();
        for (String m : methods) {
            Stats.Interval all = Stats.bootstrapMean(values(rows, -1).get(m));
            overall.put(m, all);
            p.append(csv(m)).append(",all,").append(scoreFrom).append(',').append(context - 1).append(',').append(intervalCells(all)).append("\r\n");
            Map<Double, Stats.Interval> line = new LinkedHashMap<>();
            List<Stats.Interval> list = new ArrayList<>();
            for (int b = 0; b < buckets; b++) {
                Stats.Interval ci = Stats.bootstrapMean(values(rows, b).get(m));
                list.add(ci);
                int[] range = bucketRange(b, context, buckets);
                p.append(csv(m)).append(',').append(b).append(',').append(range[0]).append(',').append(range[1])
                        .append(',').append(intervalCells(ci)).append("\r\n");
                line.put((range[0] + range[1]) / 2.0, ci);
            }
            byBucket.put(m, list);
            series.add(line);
        }
        write(out.resolve("perplexity.csv"), p.toString());

        // perplexity.md
        int n = rows.size() / Math.max(1, methods.size());
        StringBuilder md = new StringBuilder("# moice perplexity\n\n");
        for (String s : notes) md.append("- ").append(s).append('\n');
        md.append("\nMean next-token negative log-likelihood (NLL, nats; lower is better) over windows of ").append(context)
                .append(" tokens, each read from an empty cache")
                .append(scoreFrom == 1 ? "" : ", counting predicted tokens " + scoreFrom + "–" + (context - 1)
                        + " of each window in its mean (the position table covers the whole window)")
                .append("; perplexity = exp(mean NLL). Intervals are 95 % ")
                .append("percentile bootstrap intervals over windows (").append(String.format(Locale.ROOT, "%,d", Stats.RESAMPLES))
                .append(" resamples, fixed seed); n = ").append(n).append(" windows per method. Differences pair the ")
                .append("same window across methods; p from the sign-flip permutation test on the per-window ")
                .append("differences (exact up to ").append(Stats.EXACT_FLIP_LIMIT).append(" windows); * marks p < 0.05.\n");
        md.append("\n## Overall\n\n| method | windows | mean NLL [95 % CI] | perplexity [95 % CI] |\n|---|---:|---:|---:|\n");
        for (String m : methods) {
            Stats.Interval ci = overall.get(m);
            md.append(String.format(Locale.ROOT, "| %s | %d | %.4f [%.4f, %.4f] | %.3f [%.3f, %.3f] |%n", m, ci.n(),
                    ci.mean(), ci.lower(), ci.upper(), Math.exp(ci.mean()), Math.exp(ci.lower()), Math.exp(ci.upper())));
        }
        md.append("\n## Mean NLL by position (tokens of the window)\n\n| method |");
        for (int b = 0; b < buckets; b++) {
            int[] r = bucketRange(b, context, buckets);
            md.append(' ').append(r[0]).append('–').append(r[1]).append(" |");
        }
        md.append("\n|---|").append("---:|".repeat(buckets)).append('\n');
        for (String m : methods) {
            md.append("| ").append(m).append(" |");
            for (Stats.Interval ci : byBucket.get(m))
                md.append(String.format(Locale.ROOT, " %.3f [%.3f, %.3f] |", ci.mean(), ci.lower(), ci.upper()));
            md.append('\n');
        }
        for (String base : methods.stream().filter(Summary::isBaseline).toList()) {
            List<String> others = methods.stream().filter(m -> !m.equals(base)).toList();
            if (others.isEmpty()) continue;
            md.append("\n## NLL difference: method − ").append(base).append(" (negative = better than ").append(base)
                    .append(")\n\n| method | all |");
            for (int b = 0; b < buckets; b++) {
                int[] r = bucketRange(b, context, buckets);
                md.append(' ').append(r[0]).append('–').append(r[1]).append(" |");
            }
            md.append("\n|---|---:|").append("---:|".repeat(buckets)).append('\n');
            for (String m : others) {
                md.append("| ").append(m).append(" |");
                for (int b = -1; b < buckets; b++) {
                    Stats.Paired pd = Stats.paired(values(rows, b).get(m), values(rows, b).get(base));
                    md.append(String.format(Locale.ROOT, " %+.4f [%+.4f, %+.4f] p=%s%s |", pd.difference().mean(),
                            pd.difference().lower(), pd.difference().upper(), Summary.formatP(pd.p()),
                            pd.significant() ? " *" : ""));
                }
                md.append('\n');
            }
        }
        write(out.resolve("perplexity.md"), md.toString());
        Plots.write(Plots.lines("next-token NLL by position (" + n + " windows of " + context + ")",
                        "position in the window (tokens)", context, "mean NLL (nats), 95 % CI", methods, series, 1, false),
                out.resolve("nll_by_position.png"));
    }

    /** First and last predicted token index of bucket {@code b}. */
    public static int[] bucketRange(int b, int context, int buckets) {
        int first = Math.max(1, (int) Math.ceil((double) b * context / buckets));
        while (first > 1 && bucketOf(first - 1, context, buckets) == b) first--;
        while (bucketOf(first, context, buckets) < b) first++;
        int last = first;
        while (last + 1 < context && bucketOf(last + 1, context, buckets) == b) last++;
        return new int[]{first, last};
    }

    private static String intervalCells(Stats.Interval ci) {
        return String.format(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.4f,%.4f,%.4f", ci.n(), ci.mean(), ci.lower(), ci.upper(),
                Math.exp(ci.mean()), Math.exp(ci.lower()), Math.exp(ci.upper()));
    }

    private static String csv(String s) {
        StringBuilder sb = new StringBuilder();
        ResultsCsv.quote(s, sb);
        return sb.toString();
    }

    private static void write(Path file, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }
}
