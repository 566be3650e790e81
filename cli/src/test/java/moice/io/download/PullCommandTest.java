package moice.io.download;

import moice.cli.Main;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code moice pull} through the CLI: only the model path on stdout, errors as one line with exit code 1. */
class PullCommandTest {
    @TempDir
    Path home;

    private final PrintStream originalOut = System.out;
    private final PrintStream originalErr = System.err;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @BeforeEach
    void redirect() {
        assumeTrue(System.getenv("MOICE_HOME") == null, "MOICE_HOME would override -Dmoice.home");
        System.setProperty("moice.home", home.toString());
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(originalOut);
        System.setErr(originalErr);
        System.clearProperty("moice.home");
    }

    @Test
    void pullPrintsOnlyThePathOnStdoutTwice() throws IOException {
        try (HubTestServer server = new HubTestServer("test-org/tiny")) {
            byte[] gguf = new byte[5_000];
            server.put("tiny.Q8_0.gguf", gguf, true);
            server.put("README.md", new byte[10], false);
            String endpoint = server.endpoint().toString();
            Path expected = home.resolve("hub/test-org--tiny/tiny.Q8_0.gguf");

            assertEquals(0, Main.run("pull", "test-org/tiny", "--include", "*.gguf", "--endpoint", endpoint));
            assertEquals(expected + "\n", out.toString(StandardCharsets.UTF_8));
            assertArrayEquals(gguf, Files.readAllBytes(expected));
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("test-org/tiny @ main = commit"));

            out.reset();
            assertEquals(0, Main.run("pull", "test-org/tiny", "--include", "*.gguf", "--endpoint", endpoint));
            assertEquals(expected + "\n", out.toString(StandardCharsets.UTF_8));
            assertEquals(expected, ModelCache.resolve("test-org/tiny"));
        }
    }

    @Test
    void badArgumentsGiveOneLineErrors() {
        assertEquals(1, Main.run("pull", "not a model"));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("moice: pull: unknown model 'not a model'"),
                err.toString(StandardCharsets.UTF_8));
        err.reset();
        assertEquals(1, Main.run("pull", "smollm2-135m-instruct", "--revision", "v1"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("apply only to Hugging Face repositories"));
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }
}
