package moice.eval;

import java.util.List;
import java.util.Random;

/**
 * Needle in a haystack: one fact written like the filler around it (a named person's favourite number), placed at a
 * depth, and a question about it with no warning that something is hidden. Run over a grid of lengths × depths.
 */
public final class NeedleTask implements SyntheticTask {
    private static final String[] PEOPLE = {"the lighthouse keeper", "the old ferryman", "the village baker",
            "the museum guard", "the orchard owner", "the station master"};

    @Override
    public String name() { return "niah"; }

    @Override
    public Sample sample(int length, double depth, int index, long seed, PromptEncoder encoder) {
        Random random = SyntheticTask.random(seed, name(), length, depth, index);
        String person = PEOPLE[random.nextInt(PEOPLE.length)];
        String number = String.valueOf(1000 + random.nextInt(9000));
        String needle = "The favourite number of " + person + " is " + number + ".";
        String question = "What is the favourite number of " + person + "? Answer with the number only.";
        List<String> filler = Filler.sentences(random, length);
        java.util.function.IntFunction<String> user = n -> "Read the text and answer the question.\n\n"
                + Filler.withNeedle(filler.subList(0, n), needle, depth) + "\n\nQuestion: " + question;
        int n = Budget.largestFitting(0, filler.size(), length, k -> encoder.encode(null, user.apply(k), "").length,
                "the needle prompt");
        String text = user.apply(n);
        return new Sample(null, text, "", List.of(number), Metric.BEST_SUBSPAN_EM, depth,
                Filler.needleIndex(n, depth) + 1, n, encoder.encode(null, text, "").length);
    }
}
