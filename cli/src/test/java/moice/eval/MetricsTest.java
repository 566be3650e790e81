package moice.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The benchmarks' scoring rules on hand-made cases (expected values worked out by hand from the papers' code). */
class MetricsTest {
    @Test
    void squadNormalisation() {
        assertEquals("eiffel tower", Metrics.normalize("The Eiffel Tower!"));
        assertEquals("apple day", Metrics.normalize("An apple, a  day."));
        assertEquals("theater anthem", Metrics.normalize("Theater anthem")); // articles only as whole words
        assertEquals("usa", Metrics.normalize("U.S.A."));
        assertEquals("rock n roll", Metrics.normalize("rock 'n' roll"));
        assertEquals("café au lait", Metrics.normalize("\tCafé  au\nlait "));
        assertEquals("", Metrics.normalize("the a an ..."));
        assertEquals("«quoted»", Metrics.normalize("«Quoted»")); // only ASCII punctuation is removed, as in Python
    }

    @Test
    void exactAndBestSubspanMatch() {
        assertEquals(1, Metrics.exactMatch("the Eiffel tower.", List.of("Eiffel Tower")));
        assertEquals(0, Metrics.exactMatch("It is the Eiffel Tower", List.of("Eiffel Tower")));
        assertEquals(1, Metrics.bestSubspanEm("It is the Eiffel Tower", List.of("Louvre", "eiffel tower")));
        assertEquals(1, Metrics.bestSubspanEm("Parisian", List.of("Paris"))); // a substring, as the paper defines it
        assertEquals(0, Metrics.bestSubspanEm("London", List.of("Paris")));
        assertEquals(1, Metrics.bestSubspanEm("The answer: 42,000.", List.of("42000")));
        assertEquals("Paris", Metrics.firstLine("  Paris \nDocument [3] says London"));
        assertEquals(0, Metric.BEST_SUBSPAN_EM.score("I think\nParis", List.of("Paris")), "scored on the first line");
        assertEquals(1, Metric.BEST_SUBSPAN_EM.score("Paris, France\nmore", List.of("paris")));
    }

    @Test
    void keyValueMatchIgnoresCase() {
        String v = "8c2d1e4f-aaaa-4bbb-8ccc-0123456789ab";
        assertEquals(1, Metric.CONTAINS.score("The value is \"" + v.toUpperCase() + "\"", List.of(v)));
        assertEquals(0, Metric.CONTAINS.score("8c2d1e4f-aaaa", List.of(v)));
    }

    @Test
    void tokenF1() {
        // "the cat sat on the mat" → [cat, sat, on, mat]; gold [cat, on, mat]: P = 3/4, R = 1, F1 = 6/7
        assertEquals(6 / 7.0, Metrics.tokenF1("the cat sat on the mat", List.of("cat on mat")), 1e-12);
        assertEquals(1, Metrics.tokenF1("Ada Lind.", List.of("someone", "ada lind")), 1e-12);
        assertEquals(0, Metrics.tokenF1("", List.of("x")));
        // repeated words count once per occurrence in the gold: [a? no] "b b b" vs "b": P = 1/3, R = 1 → 0.5
        assertEquals(0.5, Metrics.tokenF1("b b b", List.of("b")), 1e-12);
    }

    @Test
    void levalOptionLetters() {
        assertEquals("AB", Metrics.levalGoldOptions("AB because both are true"));
        assertEquals("C", Metrics.levalGoldOptions("(C) the river"));
        assertEquals("A", Metrics.levalGoldOptions("none"), "L-Eval's default guess");
        assertEquals("B", Metrics.levalPredictedOptions("B. because of the rain", false));
        assertEquals("C", Metrics.levalPredictedOptions("the answer is C", false));
        assertEquals("BC", Metrics.levalPredictedOptions("BC", false), "a piece of ABCD is taken as is");
        assertEquals("AC", Metrics.levalPredictedOptions("CA and more", true));
        assertEquals("AC", Metrics.levalPredictedOptions("Options A and C are right.", true));
        assertEquals("B", Metrics.levalPredictedOptions("Option B. Question 2: D", true), "text after 'Question' is ignored");
        assertEquals("A", Metrics.levalPredictedOptions("no idea", true));
    }

    @Test
    void levalExactMatch() {
        assertEquals(1, Metrics.levalOptionScore("AB", "AB"));
        assertEquals(0.25, Metrics.levalOptionScore("A", "AB"), "part of the right options");
        assertEquals(0, Metrics.levalOptionScore("AC", "AB"));
        assertEquals(1, Metric.LEVAL_SINGLE_OPTION.score("B", List.of("(B) a sailor")));
        assertEquals(0, Metric.LEVAL_SINGLE_OPTION.score("A sailor told it", List.of("(B) a sailor")),
                "the first capital A-D decides");
        assertEquals(0.25, Metric.LEVAL_MULTI_OPTION.score("C", List.of("AC")));
        assertEquals(1, Metric.LEVAL_MULTI_OPTION.score("AC", List.of("AC")));
    }

    @Test
    void levalJudgement() {
        assertEquals("true", Metrics.levalGoldJudgement("True [fact: False]"));
        assertEquals(1, Metrics.levalJudgeScore("True, the story says so.", "True [fact: False]"));
        assertEquals(0, Metrics.levalJudgeScore("It is false.", "True [fact: False]"));
        assertEquals(0, Metrics.levalJudgeScore("I cannot tell", "False [fact: False]"));
        assertEquals(1, Metrics.levalJudgeScore("FALSE", "False"));
    }

    @Test
    void gapIsMaxMinusMin() {
        assertEquals(0.5, Summary.gap(List.of(0.9, 0.4, 0.6)), 1e-12);
        assertEquals(Double.NaN, Summary.gap(List.of(0.3)));
    }
}
