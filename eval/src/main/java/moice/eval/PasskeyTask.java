package moice.eval;

import java.util.List;
import java.util.Random;

/**
 * Passkey retrieval: a five-digit pass key stated once, at a chosen depth, inside filler text, and asked for at the
 * end. Scored by best-subspan exact match on the first line.
 */
public final class PasskeyTask implements SyntheticTask {
    static final String INSTRUCTION = "There is an important piece of information hidden inside a lot of irrelevant "
            + "text. Find it and remember it. I will ask you about it afterwards.";
    static final String QUESTION = "What is the pass key? Answer with the number only.";

    @Override
    public String name() { return "passkey"; }

    /** The sentence that carries the key. */
    static String needle(String key) {
        return "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
    }

    @Override
    public Sample sample(int length, double depth, int index, long seed, PromptEncoder encoder) {
        Random random = SyntheticTask.random(seed, name(), length, depth, index);
        String key = String.valueOf(10000 + random.nextInt(90000));
        List<String> filler = Filler.sentences(random, length); // a sentence has more than one token: enough
        String needle = needle(key);
        java.util.function.IntFunction<String> user = n ->
                INSTRUCTION + "\n\n" + Filler.withNeedle(filler.subList(0, n), needle, depth) + "\n\n" + QUESTION;
        int n = Budget.largestFitting(0, filler.size(), length, k -> encoder.encode(null, user.apply(k), "").length,
                "the passkey prompt");
        String text = user.apply(n);
        return new Sample(null, text, "", List.of(key), Metric.BEST_SUBSPAN_EM, depth,
                Filler.needleIndex(n, depth) + 1, n, encoder.encode(null, text, "").length);
    }
}
