package moice.eval;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The statistics of the evaluation reports, plain Java and deterministic (fixed seeds): percentile bootstrap
 * intervals of a mean, the exact (or Monte-Carlo) sign-flip permutation test of paired differences, and the exact
 * McNemar test of paired correct/wrong outcomes.
 */
public final class Stats {
    /** Bootstrap resamples used by the reports. */
    public static final int RESAMPLES = 10_000;
    /** Seed of every bootstrap and Monte-Carlo draw of the reports: the same rows give the same report. */
    public static final long SEED = 20240627L;
    /** Up to this many pairs the sign-flip test enumerates all 2^n sign patterns; above it draws {@link #FLIPS}. */
    public static final int EXACT_FLIP_LIMIT = 20;
    /** Random sign patterns of the Monte-Carlo sign-flip test. */
    public static final int FLIPS = 100_000;

    private Stats() {}

    /** A mean with its two-sided interval; {@code n} values went in. NaNs when n = 0. */
    public record Interval(int n, double mean, double lower, double upper) {
        /** Whether the interval excludes 0 (both bounds on one side). */
        public boolean excludesZero() {
            return lower > 0 || upper < 0;
        }
    }

    /** Mean of {@code x}; NaN when empty. */
    public static double mean(double[] x) {
        if (x.length == 0) return Double.NaN;
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }

    /** {@link #bootstrapMean(double[], int, long, double)} with the report's settings: 10,000 resamples, 95 %. */
    public static Interval bootstrapMean(double[] x) {
        return bootstrapMean(x, RESAMPLES, SEED, 0.95);
    }

    /**
     * Percentile bootstrap interval of the mean of {@code x}: {@code resamples} means of n values drawn with
     * replacement (generator seeded by {@code seed}), sorted; the bounds are the order statistics at ranks
     * ⌊B·α/2⌋ and ⌈B·(1 − α/2)⌉ − 1 (0-based), α = 1 − level, so they are always attained resample means.
     */
    public static Interval bootstrapMean(double[] x, int resamples, long seed, double level) {
        int n = x.length;
        if (n == 0) return new Interval(0, Double.NaN, Double.NaN, Double.NaN);
        if (resamples < 1) throw new IllegalArgumentException("resamples " + resamples);
        if (!(level > 0 && level < 1)) throw new IllegalArgumentException("level " + level);
        SplittableRandom random = new SplittableRandom(seed);
        double[] means = new double[resamples];
        for (int b = 0; b < resamples; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += x[random.nextInt(n)];
            means[b] = s / n;
        }
        Arrays.sort(means);
        double alpha = 1 - level;
        int lo = (int) Math.floor(resamples * alpha / 2);
        int hi = (int) Math.ceil(resamples * (1 - alpha / 2)) - 1;
        lo = Math.clamp(lo, 0, resamples - 1);
        hi = Math.clamp(hi, lo, resamples - 1);
        return new Interval(n, mean(x), means[lo], means[hi]);
    }

    /**
     * Two-sided p-value of the paired sign-flip permutation test of {@code d} (differences, H0: symmetric about 0):
     * the share of sign patterns whose |Σ ±d_i| reaches the observed |Σ d_i|. Exact over all 2^n patterns for
     * n ≤ {@link #EXACT_FLIP_LIMIT}; otherwise {@link #FLIPS} random patterns (seed {@link #SEED}) with the
     * observed pattern counted, p = (hits + 1) / (FLIPS + 1). Returns 1 for n = 0 or all-zero differences.
     */
    public static double signFlipP(double[] d) {
        int n = d.length;
        if (n == 0) return 1;
        double observed = Math.abs(sum(d));
        double scale = 0;
        for (double v : d) scale += Math.abs(v);
        if (scale == 0) return 1;
        // sums that equal the observed one up to rounding count as reaching it
        double threshold = observed - 1e-12 * scale;
        if (n <= EXACT_FLIP_LIMIT) {
            long hits = 0, patterns = 1L << n;
            for (long mask = 0; mask < patterns; mask++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += (mask >>> i & 1) != 0 ? -d[i] : d[i];
                if (Math.abs(s) >= threshold) hits++;
            }
            return (double) hits / patterns;
        }
        SplittableRandom random = new SplittableRandom(SEED);
        long hits = 0;
        for (int b = 0; b < FLIPS; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += random.nextBoolean() ? -d[i] : d[i];
            if (Math.abs(s) >= threshold) hits++;
        }
        return (hits + 1.0) / (FLIPS + 1.0);
    }

    /**
     * Exact two-sided McNemar test: {@code b} pairs where only the first is right, {@code c} where only the second
     * is. Under H0 the discordant pairs split Binomial(b + c, 1/2); p = min(1, 2·P(X ≤ min(b, c))). 1 when b = c = 0.
     */
    public static double mcNemarP(int b, int c) {
        if (b < 0 || c < 0) throw new IllegalArgumentException("counts " + b + ", " + c);
        int n = b + c, k = Math.min(b, c);
        if (n == 0) return 1;
        // P(X = i) = C(n, i) / 2^n in logs: exact enough for any n the reports see
        double tail = 0;
        for (int i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.log(2));
        return Math.min(1, 2 * tail);
    }

    static double logChoose(int n, int k) {
        double s = 0;
        for (int i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
        return s;
    }

    /** A paired comparison of method A against baseline B over the same n samples. */
    public record Paired(int n, Interval difference, double p, String test, int onlyA, int onlyB) {
        /** p < 0.05. */
        public boolean significant() {
            return p < 0.05;
        }
    }

    /**
     * A − B per pair: mean difference with its bootstrap interval and a p-value. When every value is 0 or 1
     * (correct/wrong) the test is exact McNemar on the discordant pairs; otherwise the sign-flip permutation test.
     */
    public static Paired paired(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " vs " + b.length + " values");
        int n = a.length;
        double[] d = new double[n];
        boolean binary = true;
        int onlyA = 0, onlyB = 0;
        for (int i = 0; i < n; i++) {
            d[i] = a[i] - b[i];
            binary &= (a[i] == 0 || a[i] == 1) && (b[i] == 0 || b[i] == 1);
            if (a[i] > b[i]) onlyA++;
            else if (a[i] < b[i]) onlyB++;
        }
        Interval ci = bootstrapMean(d);
        return binary ? new Paired(n, ci, mcNemarP(onlyA, onlyB), "McNemar (exact)", onlyA, onlyB)
                : new Paired(n, ci, signFlipP(d), n <= EXACT_FLIP_LIMIT ? "sign-flip (exact)"
                : "sign-flip (" + FLIPS + " draws)", onlyA, onlyB);
    }

    private static double sum(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s;
    }
}
