package moice.eval;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** summary.md statistics on rows built by hand, so every number is known. */
class SummaryStatsTest {
    static ResultRow row(String method, double depth, int sample, double correct, double loglik) {
        return new ResultRow(method, "passkey", 1024, depth, 1, sample, "x", "y", correct, 1000, 1.0, 10, 20,
                "loglik", loglik, loglik / 2, 2);
    }

    /**
     * 10 samples at each of two depths. moice is right on all 20, vanilla on none at depth 0 and on all at depth 1: 10
     * discordant pairs, all for moice (McNemar p = 2·0.5^10). moice's log-likelihood is higher by 0.1·(i+1) at depth 0
     * and equal at depth 1 (sign-flip p over the 10 non-zero differences = 2/1024; zero differences do not change it).
     * equal is vanilla's copy, so moice − equal gives the same numbers.
     */
    static List<ResultRow> rows() {
        List<ResultRow> rows = new ArrayList<>();
        for (String m : List.of("vanilla", "equal", "moice:r.safetensors"))
            for (double depth : new double[]{0, 1})
                for (int i = 0; i < 10; i++) {
                    boolean moice = m.startsWith("moice");
                    double base = -5 - i;
                    double ll = moice && depth == 0 ? base + 0.1 * (i + 1) : base;
                    rows.add(row(m, depth, i, moice || depth == 1 ? 1 : 0, ll));
                }
        return rows;
    }

    @Test
    void pairedComparisonsAgainstVanillaAndEqual() {
        Summary s = new Summary(rows());
        assertEquals(List.of("vanilla", "equal"), s.baselines());
        Stats.Paired acc = s.paired("moice:r.safetensors", "vanilla", Summary.Measure.ACCURACY, r -> true);
        assertEquals(20, acc.n());
        assertEquals(10, acc.onlyA());
        assertEquals(0, acc.onlyB());
        assertEquals(2 * Math.pow(0.5, 10), acc.p(), 1e-15);
        assertEquals(0.5, acc.difference().mean(), 1e-12);
        Stats.Paired ll = s.paired("moice:r.safetensors", "equal", Summary.Measure.LOGLIK, r -> r.depth() == 0);
        assertEquals(10, ll.n());
        assertEquals(2.0 / 1024, ll.p(), 0);
        assertEquals(0.55, ll.difference().mean(), 1e-12);
        assertNull(s.paired("moice:r.safetensors", "nobody", Summary.Measure.ACCURACY, r -> true));
        // by depth: moice is right everywhere (zero-width CI), vanilla 0 % at depth 0 and 100 % at depth 1
        assertEquals(new Stats.Interval(10, 0, 0, 0), s.intervalByDepth("vanilla", Summary.Measure.ACCURACY).get(0.0));
        assertEquals(new Stats.Interval(10, 1, 1, 1), s.intervalByDepth("moice:r.safetensors", Summary.Measure.ACCURACY).get(1.0));
    }

    @Test
    void markdownStatesNAndMarksSignificance() {
        String md = new Summary(rows()).markdown("t", List.of("note"));
        // accuracy difference vs vanilla: +50 points, CI by bootstrap of 10 ones and 10 zeros; 10 / 0 discordant
        assertTrue(md.contains("## Paired difference: method − vanilla"), md);
        assertTrue(md.contains("## Paired difference: method − equal"), md);
        String line = md.lines().filter(l -> l.startsWith("| moice:r.safetensors | 20 | +50.0 [")).findFirst().orElseThrow();
        assertTrue(line.contains("| 10 / 0 | 0.002 (McNemar) | * |"), line);
        assertTrue(line.contains("(sign-flip) | * |"), line);
        // equal vs vanilla: identical, p = 1, no mark
        String eq = md.lines().filter(l -> l.startsWith("| equal | 20 |") && l.contains("McNemar")).findFirst().orElseThrow();
        assertTrue(eq.contains("+0.0 [+0.0, +0.0] | 0 / 0 | 1.000 (McNemar) |  |"), eq);
        assertTrue(md.contains("Accuracy by depth (all lengths; n = 10 per cell)"), md);
        assertTrue(md.contains("| vanilla | 0.0 [0.0, 0.0] | 100.0 [100.0, 100.0] | 100.0 |"), md);
        // by depth vs vanilla: depth 0 is +100 points with p = 2·0.5^10, depth 1 is 0 with p = 1
        assertTrue(md.contains("| moice:r.safetensors | +100.0 [+100.0, +100.0] p=0.002 * | +0.0 [+0.0, +0.0] p=1.000 |"), md);
        // equal − vanilla by depth too (equal is vanilla's copy: zero everywhere), not vanilla − equal
        assertTrue(md.contains("| equal | +0.0 [+0.0, +0.0] p=1.000 | +0.0 [+0.0, +0.0] p=1.000 |"), md);
        String byDepthVsEqual = md.substring(md.indexOf("### Accuracy: method − equal by depth"));
        byDepthVsEqual = byDepthVsEqual.substring(0, byDepthVsEqual.indexOf("\n\n", byDepthVsEqual.indexOf("|---")));
        assertTrue(!byDepthVsEqual.contains("| vanilla |"), byDepthVsEqual);
        assertTrue(md.contains("| vanilla | 20 | 50.0 ["), md);
        assertTrue(md.contains("Log-likelihood by depth"), md);
    }

    @Test
    void generateRowsHaveNoLoglikTables() {
        List<ResultRow> rows = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            rows.add(new ResultRow("vanilla", "kv", 512, 0.5, 1, i, "p", "g", i % 2, 500, 1, 1, 1));
            rows.add(new ResultRow("ab", "kv", 512, 0.5, 1, i, "p", "g", 1, 500, 1, 1, 1));
        }
        Summary s = new Summary(rows);
        String md = s.markdown("t", List.of());
        assertTrue(!s.hasLoglik() && !md.contains("Log-likelihood by depth") && !md.contains("sign-flip) |"), md);
        // ab right on the 2 samples vanilla misses: McNemar p = 2·0.5^2 = 0.5
        assertTrue(md.contains("| ab | 4 | +50.0 ["), md);
        assertTrue(md.contains("| 2 / 0 | 0.500 (McNemar) |  |"), md);
    }

    /** Near-zero log-likelihood differences keep two significant digits; ordinary ones keep three decimals. */
    @Test
    void smallDifferencesKeepTheirDigits() {
        assertEquals("+0.00009 [+0.00005, +0.00013]",
                Summary.formatDifference(new Stats.Interval(70, 0.00009, 0.00005, 0.00013), Summary.Measure.LOGLIK));
        assertEquals("-0.848 [-0.926, -0.773]",
                Summary.formatDifference(new Stats.Interval(70, -0.848, -0.926, -0.773), Summary.Measure.LOGLIK));
        assertEquals("+0.012 [-0.001, +0.025]",
                Summary.formatDifference(new Stats.Interval(70, 0.012, -0.001, 0.025), Summary.Measure.LOGLIK));
        assertEquals("+0.000 [+0.000, +0.000]",
                Summary.formatDifference(new Stats.Interval(70, 0, 0, 0), Summary.Measure.LOGLIK));
        assertEquals("+0.00000001 [+0.00000000, +0.00000001]",
                Summary.formatDifference(new Stats.Interval(70, 1e-8, 1e-9, 1e-8), Summary.Measure.LOGLIK));
    }

    /**
     * An effect that flips sign with the length (as base mixing does on SmolLM2): moice's log-likelihood is lower by
     * 0.1·(i+1) at 1024 and higher by 0.2·(i+1) at 2048, so the pooled difference hides both; the by-length table shows
     * −0.55 and +1.10, each with the sign-flip p of 10 same-sign pairs, 2/1024.
     */
    @Test
    void logLikelihoodDifferencesAreShownPerLength() {
        List<ResultRow> rows = new ArrayList<>();
        for (String m : List.of("vanilla", "moice:r"))
            for (int length : new int[]{1024, 2048})
                for (int i = 0; i < 10; i++) {
                    double base = -5 - i, delta = length == 1024 ? -0.1 * (i + 1) : 0.2 * (i + 1);
                    double ll = m.equals("vanilla") ? base : base + delta;
                    rows.add(new ResultRow(m, "passkey", length, 0.5, 1, i, "x", "y", 0, length, 1.0, 10, 20,
                            "loglik", ll, ll / 2, 2));
                }
        String md = new Summary(rows).markdown("t", List.of());
        assertTrue(md.contains("## Log-likelihood by length (all depths; n = 10 per cell)"), md);
        int table = md.indexOf("### Log-likelihood: method − vanilla by length, paired");
        assertTrue(table > 0, md);
        String row = md.substring(md.indexOf("| moice:r |", table)).lines().findFirst().orElseThrow();
        assertTrue(row.startsWith("| moice:r | -0.550 [") && row.contains("p=0.002 * | +1.100 [") && row.endsWith("p=0.002 * |"), row);
    }
}
