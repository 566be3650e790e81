package moice.eval;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The report statistics on cases whose answers are known by hand. */
class StatsTest {
    @Test
    void constantSampleHasAZeroWidthInterval() {
        double[] x = new double[7];
        Arrays.fill(x, 0.625);
        Stats.Interval ci = Stats.bootstrapMean(x);
        assertEquals(7, ci.n());
        assertEquals(0.625, ci.mean());
        assertEquals(0.625, ci.lower());
        assertEquals(0.625, ci.upper());
    }

    @Test
    void percentileIntervalOfAOneInTenSample() {
        // nine 0s and one 1: a resample mean is Binomial(10, 0.1)/10. P(X = 0) = 0.349 > 0.025, so the lower bound is
        // 0; P(X ≤ 2) = 0.930 < 0.975 ≤ P(X ≤ 3) = 0.987, so the upper bound is 0.3 (the margins are ~10 standard
        // errors of the 10,000-resample quantiles)
        double[] x = new double[10];
        x[4] = 1;
        Stats.Interval ci = Stats.bootstrapMean(x);
        assertEquals(0.1, ci.mean(), 1e-15);
        assertEquals(0.0, ci.lower());
        assertEquals(0.3, ci.upper(), 1e-12);
        // two values {0, 1}: resample means 0, 0.5, 1 with 1/4, 1/2, 1/4, so the 95 % interval is [0, 1]
        Stats.Interval two = Stats.bootstrapMean(new double[]{0, 1});
        assertEquals(0.0, two.lower());
        assertEquals(1.0, two.upper());
    }

    @Test
    void theSeedMakesTheIntervalDeterministic() {
        double[] x = {3.1, -2.0, 0.4, 7.7, 1.5, -0.3, 2.2, 5.0, -4.1, 0.9, 1.1, 6.3};
        Stats.Interval a = Stats.bootstrapMean(x), b = Stats.bootstrapMean(x.clone());
        assertEquals(a, b, "fixed seed: the same interval every time");
        Stats.Interval other = Stats.bootstrapMean(x, Stats.RESAMPLES, Stats.SEED + 1, 0.95);
        assertFalse(a.equals(other), "another seed draws other resamples");
        assertTrue(a.lower() < a.mean() && a.mean() < a.upper(), a.toString());
        // a wider level gives a wider interval from the same resamples
        Stats.Interval wide = Stats.bootstrapMean(x, Stats.RESAMPLES, Stats.SEED, 0.99);
        assertTrue(wide.lower() <= a.lower() && wide.upper() >= a.upper());
        assertTrue(Double.isNaN(Stats.bootstrapMean(new double[0]).mean()));
    }

    @Test
    void signFlipOfAllPositiveDifferences() {
        // n = 10, every difference positive: only the observed pattern and its mirror reach |sum|: p = 2/1024
        double[] d = {0.5, 1.0, 1.5, 2.0, 0.1, 0.2, 3.0, 0.7, 0.9, 1.3};
        assertEquals(2.0 / 1024, Stats.signFlipP(d), 0);
        // equal magnitudes 1,1,1 with signs +,+,−: |sum| = 1 is reached by every pattern: p = 1
        assertEquals(1.0, Stats.signFlipP(new double[]{1, 1, -1}), 0);
        // +1,+1,+1,+1: patterns with |sum| ≥ 4 are all-plus and all-minus: 2/16
        assertEquals(2.0 / 16, Stats.signFlipP(new double[]{1, 1, 1, 1}), 0);
        // 2, 1, 1: |sum| = 4 only for ±(2,1,1): 2/8; the zero-sum case gives p = 1
        assertEquals(2.0 / 8, Stats.signFlipP(new double[]{2, 1, 1}), 0);
        assertEquals(1.0, Stats.signFlipP(new double[]{0, 0, 0}));
        assertEquals(1.0, Stats.signFlipP(new double[0]));
    }

    @Test
    void signFlipMonteCarloAboveTheExactLimit() {
        // 30 positive differences: the exact p is 2/2^30 ≈ 1.9e-9; the Monte-Carlo estimate with the observed
        // pattern counted is at least 1/(FLIPS + 1) and, with no other hit expected, close to it
        double[] d = new double[30];
        Arrays.fill(d, 1.0);
        double p = Stats.signFlipP(d);
        assertTrue(p >= 1.0 / (Stats.FLIPS + 1) && p <= 5.0 / (Stats.FLIPS + 1), String.valueOf(p));
        assertEquals(p, Stats.signFlipP(d.clone()), 0, "seeded");
        // symmetric differences: p near 1
        double[] sym = new double[30];
        for (int i = 0; i < 30; i++) sym[i] = i % 2 == 0 ? 1 : -1;
        assertTrue(Stats.signFlipP(sym) > 0.9);
    }

    @Test
    void mcNemarExactValues() {
        assertEquals(2 * Math.pow(0.5, 10), Stats.mcNemarP(10, 0), 1e-15);
        assertEquals(2 * Math.pow(0.5, 10), Stats.mcNemarP(0, 10), 1e-15);
        assertEquals(1.0, Stats.mcNemarP(0, 0));
        assertEquals(1.0, Stats.mcNemarP(3, 3), "min(1, 2·P(X ≤ 3)) with X ~ Bin(6, 1/2) > 1");
        // b = 1, c = 5: 2·(C(6,0) + C(6,1))/64 = 14/64
        assertEquals(14.0 / 64, Stats.mcNemarP(1, 5), 1e-15);
        // b = 2, c = 8: 2·(1 + 10 + 45)/1024 = 112/1024
        assertEquals(112.0 / 1024, Stats.mcNemarP(2, 8), 1e-15);
        assertEquals(1.0, Stats.mcNemarP(1, 0));
    }

    @Test
    void pairedPicksTheTestByTheKindOfScore() {
        // accuracies: A right on 10 samples B misses, both right on 2, both wrong on 3
        double[] a = new double[15], b = new double[15];
        for (int i = 0; i < 12; i++) a[i] = 1;
        b[10] = b[11] = 1;
        Stats.Paired acc = Stats.paired(a, b);
        assertEquals("McNemar (exact)", acc.test());
        assertEquals(10, acc.onlyA());
        assertEquals(0, acc.onlyB());
        assertEquals(2 * Math.pow(0.5, 10), acc.p(), 1e-15);
        assertEquals(10.0 / 15, acc.difference().mean(), 1e-12);
        assertTrue(acc.significant());
        // log-likelihoods: A better by a positive amount on 10 of 10
        double[] la = new double[10], lb = new double[10];
        for (int i = 0; i < 10; i++) {
            lb[i] = -5 - i;
            la[i] = lb[i] + 0.1 * (i + 1);
        }
        Stats.Paired ll = Stats.paired(la, lb);
        assertEquals("sign-flip (exact)", ll.test());
        assertEquals(2.0 / 1024, ll.p(), 0);
        assertEquals(0.55, ll.difference().mean(), 1e-12);
        assertTrue(ll.difference().lower() > 0);
    }
}
