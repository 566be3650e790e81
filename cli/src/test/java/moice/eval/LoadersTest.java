package moice.eval;

import moice.MoiceException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The data-file tasks on small hand-made files laid out as the benchmarks' own files. */
class LoadersTest {
    static final Path DIR = Path.of("src/test/resources/eval");
    static final PromptEncoder ENCODER = TestEncoders.plain();

    @Test
    void mdqaPromptAndGoldPosition() {
        DataTask task = DataTask.open("mdqa", DIR.resolve("mdqa-sample.jsonl.gz"));
        assertEquals(2, task.size());
        Sample s = task.sample(0, 4000, ENCODER);
        assertEquals("""
                Write a high-quality answer for the given question using only the provided search results (some of \
                which might be irrelevant).

                Document [1](Title: Harbour towns) Harbour towns grew along the coast.
                Document [2](Title: The Quiet Harbour) The Quiet Harbour is a novel written by Mira Olsen in 1931.
                Document [3](Title: Fishing) Fishing was the main trade.
                Document [4](Title: Olsen family) The Olsen family owned a shop.

                Question: who wrote the novel the quiet harbour
                Answer:""", s.user());
        assertEquals(List.of("Mira Olsen", "M. Olsen"), s.answers());
        assertEquals(2, s.position(), "the document marked isgold");
        assertEquals(1 / 3.0, s.depth(), 1e-12);
        assertEquals(4, s.items());
        assertEquals(1, s.score("Mira Olsen wrote it."));
        Sample second = task.sample(1, 4000, ENCODER);
        assertEquals(3, second.position(), "no isgold: the first document with the answer");
        assertEquals(1.0, second.depth());
        var e = assertThrows(MoiceException.class, () -> task.sample(0, 20, ENCODER));
        assertTrue(e.getMessage().contains("mdqa-sample.jsonl.gz:1") && e.getMessage().contains("never cut"),
                e.getMessage());
    }

    @Test
    void levalCutsTheDocumentFromTheEnd() {
        DataTask task = DataTask.open("leval-quality", DIR.resolve("leval-quality.jsonl"));
        assertEquals(2, task.size(), "one sample per instruction");
        Sample full = task.sample(0, 100_000, ENCODER);
        assertTrue(full.system().startsWith("Now you are given a very long document."));
        assertEquals("\nAnswer:", full.answerPrefix());
        assertTrue(full.user().startsWith("Document is as follows. Sentence number 1 of"));
        assertTrue(full.user().contains("number 200 of the long story"));
        assertTrue(full.user().endsWith(" \nQuestion: Why did the river flood?\nA. rain\nB. snow\nC. a dam\nD. tides."
                + "  Please directly give answer without any additonal output or explanation "));
        Sample cut = task.sample(0, 800, ENCODER);
        assertTrue(cut.promptTokens() <= 800 && cut.promptTokens() > 770, "cut to fit: " + cut.promptTokens());
        assertTrue(cut.user().startsWith("Document is as follows. Sentence number 1 of"));
        assertTrue(!cut.user().contains("number 200 of") && cut.user().contains("Why did the river flood?"));
        assertEquals(1, cut.score("A"));
        assertEquals(0, cut.score("B"));
        Sample second = task.sample(1, 100_000, ENCODER);
        assertEquals(1, second.score("The answer is (B)."));
        assertEquals(Metric.LEVAL_MULTI_OPTION,
                DataTask.open("leval-coursera", DIR.resolve("leval-coursera.jsonl")).sample(0, 5000, ENCODER).metric());
        Sample fiction = DataTask.open("leval-sci_fi", DIR.resolve("leval-sci_fi.jsonl")).sample(0, 5000, ENCODER);
        assertTrue(fiction.system().contains("\"True\" or \"False\""));
        assertEquals(1, fiction.score("True."));
        assertEquals(0, fiction.score("False."));
    }

    @Test
    void longBenchCutsTheContextInTheMiddle() {
        DataTask task = DataTask.open("longbench", DIR.resolve("longbench-sample.jsonl"));
        Sample full = task.sample(0, 100_000, ENCODER);
        assertTrue(full.user().startsWith("Answer the question based on the given passages."));
        assertTrue(full.user().endsWith("Question: Who built the bridge?\nAnswer:"));
        Sample cut = task.sample(0, 400, ENCODER);
        assertTrue(cut.promptTokens() <= 400, "" + cut.promptTokens());
        assertTrue(cut.user().contains("Passage 1:\nalpha0 alpha1"), "the start is kept");
        assertTrue(cut.user().contains("The bridge was built by Ada Lind."), "the end is kept");
        assertTrue(!cut.user().contains("alpha150 "), "the middle is cut");
        assertEquals(1, cut.score("Ada Lind"), 1e-12);
        assertEquals(2 / 3.0, cut.score("Lind"), 1e-12);
    }

    @Test
    void badFilesGiveOneLineNamingFileAndLine() {
        var malformed = assertThrows(MoiceException.class, () -> DataTask.open("mdqa", DIR.resolve("malformed.jsonl")));
        assertTrue(malformed.getMessage().contains("malformed.jsonl:2"), malformed.getMessage());
        var missing = assertThrows(MoiceException.class, () -> DataTask.open("mdqa", DIR.resolve("missing-field.jsonl")));
        assertTrue(missing.getMessage().contains("missing-field.jsonl:1") && missing.getMessage().contains("answers"),
                missing.getMessage());
        var absent = assertThrows(MoiceException.class, () -> DataTask.open("mdqa", DIR.resolve("nope.jsonl")));
        assertTrue(absent.getMessage().contains("no such data file"), absent.getMessage());
        var wrongDataset = assertThrows(MoiceException.class, () -> DataTask.open("longbench", DIR.resolve("mdqa-sample.jsonl.gz")));
        assertTrue(wrongDataset.getMessage().contains("dataset"), wrongDataset.getMessage());
        for (MoiceException e : List.of(malformed, missing, absent, wrongDataset))
            assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}
