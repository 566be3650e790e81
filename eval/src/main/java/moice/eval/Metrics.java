package moice.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Answer scoring as the benchmarks define it: SQuAD normalisation, exact match and best-subspan exact match (Liu et
 * al., "Lost in the Middle"), token F1 (LongBench's {@code qa_f1_score}) and L-Eval's closed-ended exact match with
 * its option-letter extraction. Every function is pure.
 */
public final class Metrics {
    private Metrics() {}

    private static final String ASCII_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    // Python's regex/re \b is Unicode-aware on str, hence UNICODE_CHARACTER_CLASS
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    /**
     * The SQuAD normalisation: lower case, drop ASCII punctuation ({@code string.punctuation}), replace the articles
     * a/an/the (whole words) by spaces, collapse whitespace.
     */
    public static String normalize(String s) {
        return fixWhitespace(removeArticles(removePunctuation(s.toLowerCase(Locale.ROOT))));
    }

    /** L-Eval's variant: the same without lower-casing, so option letters keep their case. */
    static String normalizeKeepCase(String s) {
        return fixWhitespace(removeArticles(removePunctuation(s)));
    }

    private static String removePunctuation(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (ASCII_PUNCTUATION.indexOf(c) < 0) sb.append(c);
        }
        return sb.toString();
    }

    private static String removeArticles(String s) {
        return ARTICLES.matcher(s).replaceAll(" ");
    }

    private static String fixWhitespace(String s) {
        return String.join(" ", WHITESPACE.split(s.strip())).strip();
    }

    /** 1 when the normalised prediction equals some normalised gold answer. */
    public static double exactMatch(String prediction, List<String> golds) {
        String p = normalize(prediction);
        for (String g : golds) if (normalize(g).equals(p)) return 1;
        return 0;
    }

    /** Lost in the Middle's metric: 1 when some normalised gold answer is a substring of the normalised prediction. */
    public static double bestSubspanEm(String prediction, List<String> golds) {
        String p = normalize(prediction);
        for (String g : golds) if (p.contains(normalize(g))) return 1;
        return 0;
    }

    /**
     * Lost in the Middle scores QA on the first line only, so that a model cannot score by copying the context:
     * everything up to the first newline, stripped.
     */
    public static String firstLine(String prediction) {
        int nl = prediction.indexOf('\n');
        return (nl < 0 ? prediction : prediction.substring(0, nl)).strip();
    }

    /** The key-value retrieval metric: the gold value occurs in the prediction, ignoring case. */
    public static double containsIgnoreCase(String prediction, List<String> golds) {
        String p = prediction.toLowerCase(Locale.ROOT);
        for (String g : golds) if (p.contains(g.toLowerCase(Locale.ROOT))) return 1;
        return 0;
    }

    /** Token-level F1 of the normalised texts (LongBench / SQuAD), best over the gold answers. */
    public static double tokenF1(String prediction, List<String> golds) {
        double best = 0;
        for (String g : golds) best = Math.max(best, tokenF1(prediction, g));
        return best;
    }

    static double tokenF1(String prediction, String gold) {
        List<String> p = words(normalize(prediction)), g = words(normalize(gold));
        Map<String, Integer> counts = new HashMap<>();
        for (String w : g) counts.merge(w, 1, Integer::sum);
        int common = 0;
        for (String w : p) {
            Integer c = counts.get(w);
            if (c != null && c > 0) {
                common++;
                counts.put(w, c - 1);
            }
        }
        if (common == 0) return 0;
        double precision = common / (double) p.size(), recall = common / (double) g.size();
        return 2 * precision * recall / (precision + recall);
    }

    private static List<String> words(String s) {
        return s.isEmpty() ? List.of() : List.of(s.split(" "));
    }

    // ---- L-Eval closed-ended tasks ----

    /** L-Eval's gold option letters: the first whitespace-separated word, letters A-D only; "A" when none. */
    public static String levalGoldOptions(String gold) {
        String[] words = gold.strip().split("\\s+");
        String letters = words.length == 0 ? "" : words[0].replaceAll("[^A-D]", "");
        return letters.isEmpty() ? "A" : letters;
    }

    private static final Pattern OPTION_MENTION = Pattern.compile("\\s*[A-Z](?=[\\s.)])");

    /**
     * L-Eval's option letters of a prediction. A prediction that is a piece of "ABCD" is taken as is; single-answer
     * tasks take the first letter A-D anywhere; Coursera ({@code multipleAnswers}) takes a leading run of letters, or
     * else the capital letters standing alone (followed by space, '.' or ')') before any "Question"; the letters come
     * sorted and unique, "A" when none is found (L-Eval's random guess).
     */
    public static String levalPredictedOptions(String prediction, boolean multipleAnswers) {
        if ("ABCD".contains(prediction)) return prediction;
        if (!multipleAnswers)
            for (int i = 0; i < prediction.length(); i++)
                if ("ABCD".indexOf(prediction.charAt(i)) >= 0) return String.valueOf(prediction.charAt(i));
        StringBuilder leading = new StringBuilder();
        int i = 0;
        while (i < prediction.length() && "ABCD".indexOf(prediction.charAt(i)) >= 0) leading.append(prediction.charAt(i++));
        if (leading.length() > 1) return sortedUnique(leading);
        String rest = prediction.substring(i);
        int q = rest.indexOf("Question");
        if (q >= 0) rest = rest.substring(0, q);
        StringBuilder found = new StringBuilder(leading);
        Matcher m = OPTION_MENTION.matcher(rest);
        List<String> mentions = new ArrayList<>();
        while (m.find()) mentions.add(m.group());
        found.append(String.join(" ", mentions).strip());
        String letters = found.toString().replaceAll("[^A-D]", "");
        String result = sortedUnique(letters);
        return result.isEmpty() ? "A" : result;
    }

    private static String sortedUnique(CharSequence letters) {
        TreeSet<Character> set = new TreeSet<>();
        for (int i = 0; i < letters.length(); i++) set.add(letters.charAt(i));
        StringBuilder sb = new StringBuilder();
        for (char c : set) sb.append(c);
        return sb.toString();
    }

    /**
     * L-Eval's exact match of option letters: 1 when equal after its normalisation, 0.25 when the predicted letters
     * are a subset of the gold ones (part of a multi-answer Coursera question), else 0.
     */
    public static double levalOptionScore(String predictedOptions, String goldOptions) {
        String p = normalizeKeepCase(predictedOptions), g = normalizeKeepCase(goldOptions);
        if (p.equals(g)) return 1;
        for (int i = 0; i < p.length(); i++) if (g.indexOf(p.charAt(i)) < 0) return 0;
        return 0.25;
    }

    /**
     * L-Eval's SFiction judgement: the first word of the lower-cased prediction that contains "true" or "false"
     * ({@code "<error>"} when none) compared with the gold judgement (the part of the gold before "[fact:").
     */
    public static double levalJudgeScore(String prediction, String gold) {
        String expected = levalGoldJudgement(gold);
        String got = "<error>";
        for (String w : prediction.toLowerCase(Locale.ROOT).split("\\s+")) {
            if (w.contains("true")) {
                got = "true";
                break;
            }
            if (w.contains("false")) {
                got = "false";
                break;
            }
        }
        return got.contains(expected.replace(" ", "")) ? 1 : 0;
    }

    /** The judgement part of an L-Eval SFiction gold answer such as "True [fact: False]", lower case. */
    public static String levalGoldJudgement(String gold) {
        String g = gold.toLowerCase(Locale.ROOT);
        int fact = g.indexOf("[fact:");
        return (fact >= 0 ? g.substring(0, fact) : g).strip();
    }
}
