package moice.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Plain, unremarkable filler sentences (our own wording), drawn from a seeded generator so that a haystack is the
 * same for the same seed. They carry no numbers, so a number hidden among them is unambiguous.
 */
final class Filler {
    private static final String[] SUBJECTS = {"The river", "An old map", "The committee", "A quiet town",
            "The museum", "The harvest", "A travelling merchant", "The library", "The mountain road", "A fishing boat",
            "The orchard", "A small bakery", "The weather station", "The choir", "A wooden bridge", "The ferry",
            "The village school", "A lighthouse", "The garden club", "The old mill"};
    private static final String[] VERBS = {"was described in", "appeared in", "was discussed during",
            "changed after", "was remembered for", "was mentioned in", "grew famous for", "was repaired after",
            "was painted during", "became busy after", "was quiet during", "was photographed in"};
    private static final String[] OBJECTS = {"the spring festival", "a long winter", "the council's annual report",
            "a letter from the coast", "the new railway", "a week of heavy rain", "the school's anniversary",
            "an afternoon market", "the autumn fair", "a visit from the governor", "the summer holidays",
            "a storm in the night", "the local newspaper", "a dry season"};

    private Filler() {}

    /** {@code n} sentences drawn from {@code random}; a prefix of a longer draw with the same generator state. */
    static List<String> sentences(Random random, int n) {
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++)
            out.add(SUBJECTS[random.nextInt(SUBJECTS.length)] + " " + VERBS[random.nextInt(VERBS.length)] + " "
                    + OBJECTS[random.nextInt(OBJECTS.length)] + ".");
        return out;
    }

    /** The filler with {@code needle} inserted before sentence {@code round(depth · n)}, joined by spaces. */
    static String withNeedle(List<String> filler, String needle, double depth) {
        List<String> parts = new ArrayList<>(filler);
        parts.add(needleIndex(filler.size(), depth), needle);
        return String.join(" ", parts);
    }

    static int needleIndex(int sentences, double depth) {
        return (int) Math.round(depth * sentences);
    }
}
