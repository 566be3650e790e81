package moice.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A long passage of plain filler sentences with one fact (the "needle") placed at a chosen depth, and a question
 * whose answer is that fact. Deterministic for a seed.
 *
 * @param text     the passage with the needle inside
 * @param question asks for the needle's value
 * @param answer   the expected answer (a number written in digits)
 */
public record NeedlePassage(String text, String question, String answer) {
    private static final String[] SUBJECTS = {"The river", "An old map", "The committee", "A quiet town", "The museum",
            "The harvest", "A travelling merchant", "The library", "The mountain road", "A fishing boat"};
    private static final String[] VERBS = {"was described in", "appeared in", "was discussed during", "changed after",
            "was remembered for", "was mentioned in", "grew famous for", "was repaired after"};
    private static final String[] OBJECTS = {"the spring festival", "a long winter", "the council's annual report",
            "a letter from the coast", "the new railway", "a week of heavy rain", "the school's anniversary",
            "an afternoon market"};

    /**
     * @param sentences number of filler sentences (about 12 tokens each)
     * @param depth     where the needle goes, 0 (start) to 1 (end)
     */
    public static NeedlePassage of(int sentences, double depth, long seed) {
        Random random = new Random(seed);
        String code = String.valueOf(1000 + random.nextInt(9000));
        String needle = "The secret code of the lighthouse keeper is " + code + ".";
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < sentences; i++)
            parts.add(SUBJECTS[random.nextInt(SUBJECTS.length)] + " " + VERBS[random.nextInt(VERBS.length)] + " "
                    + OBJECTS[random.nextInt(OBJECTS.length)] + ".");
        parts.add((int) Math.round(depth * sentences), needle);
        return new NeedlePassage(String.join(" ", parts), "What is the secret code of the lighthouse keeper?", code);
    }

    /** The user message: passage, then the question. */
    public String prompt() {
        return "Read the text and answer the question.\n\n" + text + "\n\nQuestion: " + question
                + " Answer with the number only.";
    }
}
