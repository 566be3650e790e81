package moice.eval;

import java.util.List;

/** How a task scores a prediction against its gold answers; the score lies in [0, 1]. */
public enum Metric {
    /** Lost in the Middle QA: best-subspan exact match on the first line of the prediction. */
    BEST_SUBSPAN_EM {
        @Override
        public double score(String prediction, List<String> answers) {
            return Metrics.bestSubspanEm(Metrics.firstLine(prediction), answers);
        }
    },
    /** Lost in the Middle key-value retrieval: the value occurs in the prediction, ignoring case. */
    CONTAINS {
        @Override
        public double score(String prediction, List<String> answers) {
            return Metrics.containsIgnoreCase(prediction, answers);
        }
    },
    /** L-Eval QuALITY / TOEFL: one option letter. */
    LEVAL_SINGLE_OPTION {
        @Override
        public double score(String prediction, List<String> answers) {
            return bestOptionScore(prediction, answers, false);
        }

        @Override
        public List<String> options() { return List.of("A", "B", "C", "D"); }

        @Override
        public String goldOption(String gold) { return Metrics.levalGoldOptions(gold).substring(0, 1); }
    },
    /** L-Eval Coursera: one or more option letters, partial credit 0.25 for a strict subset. */
    LEVAL_MULTI_OPTION {
        @Override
        public double score(String prediction, List<String> answers) {
            return bestOptionScore(prediction, answers, true);
        }

        @Override
        public List<String> options() { return OPTION_SETS; }

        @Override
        public String goldOption(String gold) {
            return Metrics.levalGoldOptions(gold).chars().sorted().distinct()
                    .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        }
    },
    /** L-Eval SFiction: the True/False judgement according to the document. */
    LEVAL_JUDGEMENT {
        @Override
        public double score(String prediction, List<String> answers) {
            double best = 0;
            for (String a : answers) best = Math.max(best, Metrics.levalJudgeScore(prediction, a));
            return best;
        }

        @Override
        public List<String> options() { return List.of("True", "False"); }

        @Override
        public String goldOption(String gold) {
            return Metrics.levalGoldJudgement(gold).equals("true") ? "True" : "False";
        }
    },
    /** LongBench QA: token F1 after SQuAD normalisation. */
    TOKEN_F1 {
        @Override
        public double score(String prediction, List<String> answers) {
            return Metrics.tokenF1(prediction, answers);
        }
    };

    /** The score of {@code prediction}, best over {@code answers}. */
    public abstract double score(String prediction, List<String> answers);

    /**
     * The closed set of answers that log-likelihood scoring ranks (L-Eval options: the letters, every non-empty
     * letter set for Coursera, True/False for SFiction); null for free-form answers.
     */
    public List<String> options() { return null; }

    /** The member of {@link #options()} that the gold answer {@code gold} stands for. */
    public String goldOption(String gold) { return gold; }

    /** Coursera's candidates: the 15 non-empty subsets of A-D, letters in order. */
    private static final List<String> OPTION_SETS = optionSets();

    private static List<String> optionSets() {
        List<String> sets = new java.util.ArrayList<>();
        for (int mask = 1; mask < 16; mask++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 4; i++) if ((mask >> i & 1) != 0) sb.append((char) ('A' + i));
            sets.add(sb.toString());
        }
        sets.sort(java.util.Comparator.comparingInt(String::length).thenComparing(java.util.Comparator.naturalOrder()));
        return List.copyOf(sets);
    }

    /** The best L-Eval option score of {@code prediction} over the gold {@code answers}. */
    private static double bestOptionScore(String prediction, List<String> answers, boolean multipleAnswers) {
        double best = 0;
        for (String a : answers)
            best = Math.max(best, Metrics.levalOptionScore(Metrics.levalPredictedOptions(prediction, multipleAnswers),
                    Metrics.levalGoldOptions(a)));
        return best;
    }
}
