package moice.cli;

import moice.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code moice tokenize} in-process: stdout carries exactly the JSON ids HF gives (fixture expected.json). */
class TokenizeCommandTest {
    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void printsTheIdsHfGivesForEveryProbe() throws Exception {
        for (String name : new String[]{"bytelevel_smollm", "spm_llama2", "bytelevel_llama3"}) {
            Path dir = Path.of("src/test/resources/tokenizers", name);
            Map<String, Object> expected = Json.object(Json.parseFile(dir.resolve("expected.json")), "expected");
            List<Object> probes = Json.array(expected.get("probes"), "probes");
            for (int i = 0; i < probes.size(); i += 7) {
                Map<String, Object> probe = Json.object(probes.get(i), "probe");
                Path textFile = tmp.resolve("text" + i + ".txt");
                Files.writeString(textFile, (String) probe.get("text"), StandardCharsets.UTF_8);
                Result r = run("tokenize", "--model", dir.toString(), "--text-file", textFile.toString());
                assertEquals(0, r.code(), r.err());
                assertEquals(Json.write(probe.get("ids")) + System.lineSeparator(), r.out(), name + " probe " + i);
            }
        }
    }

    @Test
    void textOptionAndCompactOutput() {
        Path dir = Path.of("src/test/resources/tokenizers/spm_llama2");
        Result r = run("tokenize", "--model", dir.toString(), "--text", "Hello world");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("\\[1(,\\d+)+]\\R"), r.out());
        Result plain = run("tokenize", "--model", dir.toString(), "--text", "Hello world", "--no-special");
        assertEquals(r.out().replaceFirst("^\\[1,", "["), plain.out());
    }

    @Test
    void errorsAreOneLineWithExitCodeOne() throws Exception {
        Result missing = run("tokenize", "--model", tmp.toString(), "--text", "x");
        assertEquals(1, missing.code());
        assertTrue(missing.err().startsWith("moice: ") && missing.err().contains("tokenizer.json"), missing.err());
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
        Result unsupported = run("tokenize", "--model", tmp.toString(), "--text", "x");
        assertEquals(1, unsupported.code());
        assertTrue(unsupported.err().contains("model.type") && unsupported.err().contains("Unigram"),
                unsupported.err());
        assertEquals("", unsupported.out());
    }
}
