package moice.eval;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Multi-document QA over made-up facts: short documents about fictional institutions (invented names, towns,
 * founders, years), so the model cannot know the answer and must find it in the one document that holds it. The
 * documents fill the length; the gold one sits at the depth's position. Prompt and metric as in "Lost in the Middle".
 */
public final class SyntheticQaTask implements SyntheticTask {
    private static final String[] START = {"Vel", "Quor", "Tam", "Esk", "Brin", "Mord", "Zal", "Oth", "Pell", "Karv",
            "Sul", "Dra", "Fen", "Ilm", "Yar", "Gorm"};
    private static final String[] MIDDLE = {"a", "e", "i", "o", "u", "ar", "en", "or", "is", "al"};
    private static final String[] END = {"mora", "thas", "vik", "dell", "wyn", "zar", "lund", "mir", "quist", "rath",
            "bor", "nell"};
    private static final String[] KINDS = {"Observatory", "Academy", "Guild", "Archive", "Conservatory", "Institute",
            "Foundry", "Society"};
    static final String INSTRUCTION = "Write a high-quality answer for the given question using only the provided "
            + "search results (some of which might be irrelevant).";

    /** One fictional institution; every field is unique within a sample. */
    record Doc(String name, String town, String founder, String year, String kind) {
        String title() { return name + " " + kind; }

        String text() {
            return "The " + name + " " + kind + " is located in the town of " + town + ". It was founded in " + year
                    + " by " + founder + ". Its members meet every season to exchange notes and records.";
        }
    }

    @Override
    public String name() { return "synthetic-qa"; }

    private static String word(Random r) {
        return START[r.nextInt(START.length)] + MIDDLE[r.nextInt(MIDDLE.length)] + END[r.nextInt(END.length)];
    }

    private static Doc doc(Random r, Set<String> used) {
        String name = unique(used, () -> word(r));
        String town = unique(used, () -> word(r));
        String founder = unique(used, () -> word(r)) + " " + unique(used, () -> word(r));
        String year = unique(used, () -> String.valueOf(1500 + r.nextInt(450)));
        return new Doc(name, town, founder, year, KINDS[r.nextInt(KINDS.length)]);
    }

    private static String unique(Set<String> used, java.util.function.Supplier<String> draw) {
        while (true) {
            String s = draw.get();
            if (used.add(s)) return s;
        }
    }

    static String prompt(List<Doc> docs, String question) {
        StringBuilder sb = new StringBuilder(INSTRUCTION).append("\n\n");
        for (int i = 0; i < docs.size(); i++) {
            if (i > 0) sb.append('\n');
            sb.append("Document [").append(i + 1).append("](Title: ").append(docs.get(i).title()).append(") ")
                    .append(docs.get(i).text());
        }
        return sb.append("\n\nQuestion: ").append(question).append("\nAnswer:").toString();
    }

    static int goldIndex(int docs, double depth) {
        return (int) Math.round(depth * (docs - 1));
    }

    @Override
    public Sample sample(int length, double depth, int index, long seed, PromptEncoder encoder) {
        Random random = SyntheticTask.random(seed, name(), length, depth, index);
        Set<String> used = new HashSet<>();
        Doc gold = doc(random, used);
        String question;
        String answer;
        switch (random.nextInt(3)) {
            case 0 -> { question = "In which year was the " + gold.title() + " founded?"; answer = gold.year(); }
            case 1 -> { question = "Who founded the " + gold.title() + "?"; answer = gold.founder(); }
            default -> { question = "In which town is the " + gold.title() + " located?"; answer = gold.town(); }
        }
        int most = Math.max(2, length / 40); // a document is far more than 40 tokens
        List<Doc> distractors = new ArrayList<>(most);
        for (int i = 1; i < most; i++) distractors.add(doc(random, used));
        java.util.function.IntFunction<List<Doc>> docs = n -> {
            List<Doc> list = new ArrayList<>(distractors.subList(0, n - 1));
            list.add(goldIndex(n, depth), gold);
            return list;
        };
        String q = question;
        int n = Budget.largestFitting(2, most, length, k -> encoder.encode(null, prompt(docs.apply(k), q), "").length,
                "the question with two documents");
        String text = prompt(docs.apply(n), question);
        return new Sample(null, text, "", List.of(answer), Metric.BEST_SUBSPAN_EM, depth, goldIndex(n, depth) + 1, n,
                encoder.encode(null, text, "").length);
    }
}
