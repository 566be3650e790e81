package moice.eval;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The synthetic tasks with a real tokenizer: deterministic per seed, filled to the token budget (and not beyond), and
 * the gold answer really in the prompt, at the requested depth, and nowhere else where that matters.
 */
class GeneratorsTest {
    static final PromptEncoder ENCODER = TestEncoders.plain();
    // the test tokenizer has a small vocabulary (1.5K tokens), so text takes several times more tokens than with a real one
    static final int[] LENGTHS = {600, 1200};
    static final double[] DEPTHS = {0, 0.25, 0.5, 1};

    /**
     * Checks shared by every task; {@code slack}: more than one unit of filler (sentence, record, document) takes with
     * this tokenizer, so a gap larger than it means the budget was not filled.
     */
    static void checkCommon(SyntheticTask task, int slack) {
        for (int length : LENGTHS)
            for (double depth : DEPTHS) {
                Sample a = task.sample(length, depth, 3, 42, ENCODER);
                assertEquals(a, task.sample(length, depth, 3, 42, ENCODER), "deterministic for a seed");
                assertNotEquals(a.user(), task.sample(length, depth, 3, 43, ENCODER).user(), "the seed matters");
                assertNotEquals(a.user(), task.sample(length, depth, 4, 42, ENCODER).user(), "samples differ");
                assertEquals(ENCODER.encode(null, a.user(), "").length, a.promptTokens(), "the real length is reported");
                assertTrue(a.promptTokens() <= length, task.name() + ": " + a.promptTokens() + " > " + length);
                assertTrue(a.promptTokens() > length - slack,
                        task.name() + ": " + a.promptTokens() + " tokens leave more than " + slack + " of " + length);
                assertEquals(depth, a.depth());
                assertEquals(1, a.answers().size());
                assertTrue(a.user().contains(a.answers().get(0)), "the answer is in the prompt");
            }
    }

    static int count(String text, String part) {
        int n = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) n++;
        return n;
    }

    @Test
    void passkeySitsAtItsDepth() {
        checkCommon(new PasskeyTask(), 45);
        for (double depth : DEPTHS) {
            Sample s = new PasskeyTask().sample(500, depth, 0, 7, ENCODER);
            String key = s.answers().get(0);
            assertTrue(key.matches("\\d{5}"));
            assertEquals(2, count(s.user(), key), "stated twice in the needle, nowhere else");
            String haystack = s.user().split("\n\n")[1];
            String before = haystack.substring(0, haystack.indexOf(PasskeyTask.needle(key)));
            int sentencesBefore = count(before, ".");
            assertEquals(Math.round(depth * s.items()), sentencesBefore);
            assertEquals(sentencesBefore + 1, s.position());
            assertTrue(s.score("The pass key is " + key + ".") == 1 && s.score("12345") == 0 || key.equals("12345"));
        }
    }

    @Test
    void needleSitsAtItsDepth() {
        checkCommon(new NeedleTask(), 45);
        Sample s = new NeedleTask().sample(700, 0.75, 1, 5, ENCODER);
        String haystack = s.user().split("\n\n")[1];
        int at = haystack.indexOf("The favourite number of ");
        assertEquals(Math.round(0.75 * s.items()), count(haystack.substring(0, at), "."));
        assertEquals(1, count(s.user(), s.answers().get(0)));
    }

    @Test
    void keyValueRecordIsAtItsPosition() {
        checkCommon(new KvRetrievalTask(), 130);
        Pattern record = Pattern.compile("[{ ]\"([0-9a-f-]{36})\": \"([0-9a-f-]{36})\"");
        for (double depth : DEPTHS) {
            Sample s = new KvRetrievalTask().sample(1500, depth, 2, 11, ENCODER);
            String json = s.user().substring(s.user().indexOf("{"), s.user().indexOf("}") + 1);
            String[] lines = json.split("\n");
            assertEquals(s.items(), lines.length);
            int wanted = (int) Math.round(depth * (s.items() - 1));
            assertEquals(wanted + 1, s.position());
            Matcher m = record.matcher(lines[wanted]);
            assertTrue(m.find(), lines[wanted]);
            assertEquals(s.answers().get(0), m.group(2));
            assertTrue(s.user().endsWith("Key: \"" + m.group(1) + "\"\nCorresponding value:"));
            assertEquals(1, count(s.user(), s.answers().get(0)));
            assertTrue(m.group(1).charAt(14) == '4', "version-4 UUID");
        }
    }

    @Test
    void syntheticQaAnswerIsOnlyInTheGoldDocument() {
        checkCommon(new SyntheticQaTask(), 250);
        for (long seed = 0; seed < 12; seed++)
            for (double depth : DEPTHS) {
                Sample s = new SyntheticQaTask().sample(1500, depth, 0, seed, ENCODER);
                String answer = s.answers().get(0);
                List<String> docs = s.user().lines().filter(l -> l.startsWith("Document [")).toList();
                assertEquals(s.items(), docs.size());
                int gold = (int) Math.round(depth * (docs.size() - 1));
                assertEquals(gold + 1, s.position());
                assertTrue(docs.get(gold).startsWith("Document [" + (gold + 1) + "]"));
                assertTrue(docs.get(gold).contains(answer));
                assertEquals(1, count(s.user(), answer), "seed " + seed + ": '" + answer + "' appears once");
                String question = s.user().substring(s.user().indexOf("Question: "));
                String title = docs.get(gold).substring(docs.get(gold).indexOf("(Title: ") + 8, docs.get(gold).indexOf(')'));
                assertTrue(question.contains(title), "the question names the gold document's institution");
            }
    }

    @Test
    void tooShortALengthIsAnError() {
        var e = assertThrows(moice.MoiceException.class, () -> new KvRetrievalTask().sample(50, 0.5, 0, 1, ENCODER));
        assertTrue(e.getMessage().contains("too short"), e.getMessage());
    }

    @Test
    void budgetFindsTheLargestFit() {
        for (int budget = 5; budget < 400; budget += 37) {
            int b = budget;
            int n = Budget.largestFitting(0, 1000, b, k -> 5 + k * 3 / 2, "x");
            assertTrue(5 + n * 3 / 2 <= b && 5 + (n + 1) * 3 / 2 > b, "budget " + b + ": " + n);
        }
        assertEquals(10, Budget.largestFitting(2, 10, 1000, k -> k, "x"));
    }
}
