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
    },
    /** L-Eval Coursera: one or more option letters, partial credit 0.25 for a strict subset. */
    LEVAL_MULTI_OPTION {
        @Override
        public double score(String prediction, List<String> answers) {
            return bestOptionScore(prediction, answers, true);
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

    /** The best L-Eval option score of {@code prediction} over the gold {@code answers}. */
    private static double bestOptionScore(String prediction, List<String> answers, boolean multipleAnswers) {
        double best = 0;
        for (String a : answers)
            best = Math.max(best, Metrics.levalOptionScore(Metrics.levalPredictedOptions(prediction, multipleAnswers),
                    Metrics.levalGoldOptions(a)));
        return best;
    }
}
