package moice.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The commands as a user runs them (in-process through {@link Main#run}): text generation end to end, and bad input
 * giving one line that names the file and field, exit code 1, and a stack trace only with --verbose.
 */
public class CliTest {
    @TempDir
    static Path tmp;
    static Path model;

    /** What one in-process run of the CLI returned and printed. */
    public record Run(int code, String out, String err) {}

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"));
    }

    /** Runs {@code bin/moice ARGS} in this JVM, capturing stdout and stderr (serialised: System.out is global). */
    public static synchronized Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void generatePrintsOnlyTheGeneratedText() {
        Run r = run("generate", "--model", model.toString(), "--prompt", "Hello there", "--max-tokens", "8");
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().isBlank());
        assertTrue(r.err().contains("prefill:") && r.err().contains("decode:"), r.err());
        Run again = run("generate", "--model", model.toString(), "--prompt", "Hello there", "--max-tokens", "8");
        assertEquals(r.out(), again.out(), "greedy generation is deterministic");
    }

    /**
     * {@code --kv-cache f16}: the text the API's session over a half-precision cache generates (KVCacheF16Test checks
     * that cache's numbers); an unknown precision is one line naming what is accepted.
     */
    @Test
    void generateWithAHalfPrecisionKvCache() {
        Run r = run("generate", "--model", model.toString(), "--prompt", "Hello there", "--max-tokens", "8",
                "--kv-cache", "f16");
        assertEquals(0, r.code(), r.err());
        try (moice.api.Engine e = moice.api.Moice.load(model)) {
            moice.api.Session s = e.session(e.defaultMethod(),
                    moice.api.SessionOptions.DEFAULT.withKvCache(moice.model.KVCache.Precision.F16));
            assertEquals(s.generate("Hello there", moice.api.GenerateOptions.greedy(8)).text(), r.out().strip());
            assertEquals(moice.model.KVCache.bytesFor(e.config(), 1, moice.model.KVCache.Precision.F16),
                    s.kvBytesPerPosition());
        }
        assertOneLineError(run("generate", "--model", model.toString(), "--prompt", "Hi", "--kv-cache", "q4"),
                "--kv-cache: 'q4' is not a KV cache precision; expected f32 or f16");
    }

    @Test
    void chatGenerationUsesTheTemplate() {
        Run r = run("generate", "--model", model.toString(), "--chat", "--system", "Be brief.", "--prompt", "Hi",
                "--max-tokens", "4", "--temperature", "0.8", "--top-p", "0.9", "--seed", "3");
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void chatHoldsAMultiTurnConversation() {
        var oldIn = System.in;
        System.setIn(new java.io.ByteArrayInputStream("Hi there\n/reset\nHello\nAnd again?\n/exit\n".getBytes(StandardCharsets.UTF_8)));
        try {
            Run r = run("chat", "--model", model.toString(), "--max-tokens", "3");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("(conversation reset)"), r.err());
            assertEquals(3, r.err().split("prefill:", -1).length - 1, "three model turns: " + r.err());
        } finally {
            System.setIn(oldIn);
        }
    }

    @Test
    void tokenizeGivesIds() {
        Run r = run("tokenize", "--model", model.toString(), "--text", "Hello there");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().strip().matches("\\[\\d+(,\\d+)*]"), r.out());
    }

    @Test
    void promptLongerThanTheContext() {
        Run r = run("generate", "--model", model.toString(), "--prompt", "word ".repeat(40), "--context", "16");
        assertOneLineError(r, "context is 16 tokens");
    }

    @Test
    void truncatedSafetensors() throws IOException {
        Path dir = copyModel("truncated");
        Path st = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        Files.write(st, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertOneLineError(forward(dir), "model.safetensors");
    }

    @Test
    void headerOffsetsOutOfRange() throws IOException {
        Path dir = copyModel("offsets");
        rewriteHeader(dir.resolve("model.safetensors"), h -> {
            var m = java.util.regex.Pattern.compile("\"data_offsets\":\\[(\\d+),(\\d+)]").matcher(h);
            if (!m.find()) throw new IllegalStateException("no data_offsets");
            return h.substring(0, m.start(2)) + "9".repeat(m.group(2).length()) + h.substring(m.end(2));
        });
        assertOneLineError(forward(dir), "data_offsets");
    }

    @Test
    void unknownDtype() throws IOException {
        Path dir = copyModel("dtype");
        rewriteHeader(dir.resolve("model.safetensors"), h -> h.replaceFirst("\"F32\"", "\"Q9\""));
        assertOneLineError(forward(dir), "Q9");
    }

    @Test
    void shapeDisagreesWithConfig() throws IOException {
        Path dir = copyModel("shape");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"intermediate_size\": 40", "\"intermediate_size\": 48"));
        assertOneLineError(forward(dir), "config.json implies");
    }

    @Test
    void malformedConfigJson() throws IOException {
        Path dir = copyModel("json");
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"],");
        assertOneLineError(forward(dir), "config.json");
    }

    @Test
    void missingShard() throws IOException {
        Path dir = copyModel("shard");
        Files.writeString(dir.resolve("model.safetensors.index.json"), """
                {"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                 "model.norm.weight": "model-00002-of-00002.safetensors"}}""");
        Files.move(dir.resolve("model.safetensors"), dir.resolve("model-00001-of-00002.safetensors"));
        assertOneLineError(forward(dir), "model-00002-of-00002.safetensors");
    }

    @Test
    void verboseShowsTheStackTrace() throws IOException {
        Path dir = copyModel("verbose");
        Files.writeString(dir.resolve("config.json"), "{");
        Run r = run("forward", "--verbose", "--model", dir.toString(), "--tokens", tokens().toString(), "--out",
                tmp.resolve("v.safetensors").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("\tat moice."), r.err());
    }

    private static Run forward(Path dir) throws IOException {
        Path out = tmp.resolve(dir.getFileName() + "-out.safetensors");
        Run r = run("forward", "--model", dir.toString(), "--tokens", tokens().toString(), "--out", out.toString());
        assertFalse(Files.exists(out), "no output file after an error");
        return r;
    }

    private static Path tokens() throws IOException {
        Path t = tmp.resolve("tokens.json");
        if (!Files.exists(t)) Files.writeString(t, "[1, 5, 9, 200]");
        return t;
    }

    /**
     * Main registers only the command named first (start-up time); the top-level usage must still list every command,
     * and a command's own help, its inherited --verbose and picocli's suggestion for a mistyped name must not change.
     */
    @Test
    void everyCommandIsListedAndTheNamedOneParsesAlone() {
        Run top = run("--help");
        assertEquals(0, top.code(), top.err());
        for (Class<?> c : Main.COMMANDS) {
            String name = c.getAnnotation(picocli.CommandLine.Command.class).name();
            assertTrue(top.out().contains("\n  " + name + " "), name + " missing from: " + top.out());
            assertEquals(c, Main.commandNamed(name));
            Run help = run(name, "--help");
            assertEquals(0, help.code(), name + ": " + help.err());
            assertTrue(help.out().startsWith("Usage: moice " + name), help.out());
            assertTrue(help.out().contains("--verbose"), "inherited option in " + name + ": " + help.out());
            assertEquals("", help.err(), name + " --help warns (e.g. an unescaped % in a description)");
        }
        Run viaHelp = run("help", "generate");
        assertEquals(run("generate", "--help").out(), viaHelp.out());
        Run typo = run("generat");
        assertEquals(2, typo.code());
        assertTrue(typo.err().contains("generate"), "suggests the command: " + typo.err());
        Run verbose = run("generate", "--model", tmp.resolve("missing").toString(), "--prompt", "x", "--verbose");
        assertEquals(1, verbose.code());
        assertTrue(verbose.err().contains("Exception"), "--verbose after the command prints the trace: " + verbose.err());
    }

    private static void assertOneLineError(Run r, String mustContain) {
        assertEquals(1, r.code(), r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line: " + err);
        assertTrue(err.startsWith("moice: ") && err.contains(mustContain), err);
        assertFalse(err.contains("Exception"), err);
    }

    private static Path copyModel(String name) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return dir;
    }

    /** Rewrites the JSON header of a safetensors file, keeping its length (padding with spaces). */
    private static void rewriteHeader(Path file, java.util.function.UnaryOperator<String> edit) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int n = (int) bb.getLong(0);
        String header = new String(bytes, 8, n, StandardCharsets.UTF_8);
        String edited = edit.apply(header);
        if (edited.length() > n) throw new IllegalStateException("edited header is longer");
        byte[] h = (edited + " ".repeat(n - edited.length())).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(h, 0, bytes, 8, n);
        Files.write(file, bytes);
    }
}
