package moice.eval;

import moice.MoiceException;

import java.util.function.IntUnaryOperator;

/** Fits content to a token budget: the largest amount whose encoded prompt still fits. */
final class Budget {
    private Budget() {}

    /**
     * The largest {@code n} in {@code [min, max]} with {@code tokens(n) <= budget}, assuming {@code tokens} grows with
     * {@code n}. Starts from a linear estimate so that long prompts are encoded only a handful of times.
     *
     * @throws MoiceException when even {@code min} does not fit; {@code what} names the content in the message
     */
    static int largestFitting(int min, int max, int budget, IntUnaryOperator tokens, String what) {
        int atMin = tokens.applyAsInt(min);
        if (atMin > budget)
            throw new MoiceException("length " + budget + " is too short: " + what + " needs at least " + atMin
                    + " tokens");
        int probe = Math.min(max, min + 32);
        if (probe == min) return min;
        int atProbe = tokens.applyAsInt(probe);
        if (atProbe <= budget && probe == max) return max;
        double perItem = Math.max(1e-3, (atProbe - atMin) / (double) (probe - min));
        int guess = (int) Math.min(max, Math.max(min, min + (budget - atMin) / perItem));
        // bracket [lo fits, hi does not] around the guess, widening geometrically
        int lo = min, hi = max + 1;
        int step = 4;
        if (tokens.applyAsInt(guess) <= budget) {
            lo = guess;
            while (lo < max) {
                int next = (int) Math.min(max, (long) lo + step);
                if (tokens.applyAsInt(next) <= budget) lo = next;
                else {
                    hi = next;
                    break;
                }
                step *= 2;
            }
            if (lo == max) return max;
        } else {
            hi = guess;
            while (hi > min) {
                int next = Math.max(min, hi - step);
                if (tokens.applyAsInt(next) > budget) hi = next;
                else {
                    lo = next;
                    break;
                }
                step *= 2;
            }
        }
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (tokens.applyAsInt(mid) <= budget) lo = mid;
            else hi = mid;
        }
        return lo;
    }
}
