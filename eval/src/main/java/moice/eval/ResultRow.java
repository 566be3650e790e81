package moice.eval;

import java.util.List;
import java.util.Locale;

/**
 * One finished sample of one method: a row of {@code results.csv}.
 *
 * @param correct      the metric's score in [0, 1] (1/0 for the EM metrics; partial for token F1 and Coursera)
 * @param depth        NaN when the task places no answer
 * @param position     1-based gold document / record position, 0 when not applicable
 * @param peakHeapMiB  peak Java heap while this sample ran (MiB)
 * @param peakRssMiB   peak resident set size while this sample ran (MiB; -1 where unavailable)
 * @param scoring      how the row was scored: {@code generate} (greedy answer, task metric) or {@code loglik}
 *                     (teacher-forced log-likelihood of the gold answer; see {@link Scoring})
 * @param loglik       natural-log likelihood of the gold answer's tokens given the prompt; NaN when not measured
 * @param loglikPerToken {@code loglik / answerTokens}; NaN when not measured
 * @param answerTokens tokens of the gold answer that {@code loglik} sums over (0 when not measured)
 */
public record ResultRow(String method, String task, int length, double depth, int position, int sample,
                        String prediction, String gold, double correct, int promptTokens, double seconds,
                        double peakHeapMiB, double peakRssMiB, String scoring, double loglik, double loglikPerToken,
                        int answerTokens) implements java.io.Serializable {
    /** The CSV header, in column order. */
    public static final List<String> COLUMNS = List.of("method", "task", "length", "depth", "position", "sample",
            "prediction", "gold", "correct", "prompt_tokens", "seconds", "peak_heap_mib", "peak_rss_mib", "scoring",
            "loglik", "loglik_per_token", "answer_tokens");
    /** The header of results.csv files written before log-likelihood scoring (read as {@code generate} rows). */
    public static final List<String> COLUMNS_V1 = COLUMNS.subList(0, 13);

    /** A generated-and-scored row (no log-likelihood). */
    public ResultRow(String method, String task, int length, double depth, int position, int sample,
                     String prediction, String gold, double correct, int promptTokens, double seconds,
                     double peakHeapMiB, double peakRssMiB) {
        this(method, task, length, depth, position, sample, prediction, gold, correct, promptTokens, seconds,
                peakHeapMiB, peakRssMiB, "generate", Double.NaN, Double.NaN, 0);
    }

    /** What pairs rows of different methods: the same prompt (task, length, depth, sample). */
    public String pairKey() {
        return task + "|" + length + "|" + formatDepth(depth) + "|" + sample;
    }

    /** What identifies a row for resumption: method, length, depth and sample. */
    public String key() {
        return key(method, length, depth, sample);
    }

    static String key(String method, int length, double depth, int sample) {
        return method + "|" + length + "|" + formatDepth(depth) + "|" + sample;
    }

    static String formatDepth(double depth) {
        return Double.isNaN(depth) ? "" : String.format(Locale.ROOT, "%.4f", depth);
    }

    List<String> cells() {
        return List.of(method, task, String.valueOf(length), formatDepth(depth), String.valueOf(position),
                String.valueOf(sample), prediction, gold, String.format(Locale.ROOT, "%.4f", correct),
                String.valueOf(promptTokens), String.format(Locale.ROOT, "%.3f", seconds),
                String.format(Locale.ROOT, "%.1f", peakHeapMiB), String.format(Locale.ROOT, "%.1f", peakRssMiB),
                scoring, number(loglik), number(loglikPerToken), String.valueOf(answerTokens));
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6f", v);
    }

    private static double number(String s) {
        return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
    }

    static ResultRow of(List<String> c) {
        return new ResultRow(c.get(0), c.get(1), Integer.parseInt(c.get(2)),
                c.get(3).isEmpty() ? Double.NaN : Double.parseDouble(c.get(3)), Integer.parseInt(c.get(4)),
                Integer.parseInt(c.get(5)), c.get(6), c.get(7), Double.parseDouble(c.get(8)),
                Integer.parseInt(c.get(9)), Double.parseDouble(c.get(10)), Double.parseDouble(c.get(11)),
                Double.parseDouble(c.get(12)), c.size() > 13 ? c.get(13) : "generate",
                c.size() > 13 ? number(c.get(14)) : Double.NaN, c.size() > 13 ? number(c.get(15)) : Double.NaN,
                c.size() > 13 ? Integer.parseInt(c.get(16)) : 0);
    }
}
