package moice.api;

import moice.cli.TinyChatModel;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The README's "Use from Java" example, exactly as written there (between the {@code moice-java-example} markers),
 * compiles against the API and, run in a child JVM with the model name replaced by a tiny model's path, prints what
 * {@code bin/moice generate} prints for the same prompt and greedy settings; and, unchanged, on the real SmolLM2 when
 * it has been pulled.
 */
class ReadmeJavaExampleTest {
    static final Pattern BLOCK = Pattern.compile(
            "<!-- moice-java-example:begin -->\\s*```java\\n(.*?)```\\s*<!-- moice-java-example:end -->", Pattern.DOTALL);
    static final Pattern GENERATE = Pattern.compile(
            "generate\\(\"([^\"]*)\", GenerateOptions\\.greedy\\((\\d+)\\)\\)");
    static final Pattern CLASS = Pattern.compile("public class (\\w+)");

    @TempDir
    Path tmp;

    /** The README's example and the prompt and token count it generates with. */
    record Example(String source, String className, String prompt, String maxTokens) {
        static Example fromReadme() throws IOException {
            Matcher block = BLOCK.matcher(Files.readString(Path.of("../README.md"), StandardCharsets.UTF_8));
            assertTrue(block.find(), "README.md has no moice-java-example block");
            String source = block.group(1);
            assertTrue(source.contains("Moice.load(\"smollm2-135m-instruct\")"), "the example loads SmolLM2 by name");
            Matcher generate = GENERATE.matcher(source);
            assertTrue(generate.find(), "the example generates greedily from a literal prompt");
            Matcher cls = CLASS.matcher(source);
            assertTrue(cls.find(), "the example declares a public class");
            return new Example(source, cls.group(1), generate.group(1), generate.group(2));
        }

        /** The example with SmolLM2 replaced by {@code model}. */
        Example on(Path model) {
            String literal = model.toAbsolutePath().toString().replace("\\", "\\\\").replace("\"", "\\\"");
            return new Example(source.replace("\"smollm2-135m-instruct\"", "\"" + literal + "\""), className, prompt,
                    maxTokens);
        }
    }

    @Test
    void readmeExampleRunsAndPrintsWhatTheCommandLinePrints() throws Exception {
        Path model = TinyChatModel.write(tmp.resolve("tiny"));
        Example example = Example.fromReadme().on(model);
        assertEquals(cliGenerate(model.toString(), example), run(example));
    }

    /** The example exactly as written, on the real SmolLM2 (skipped when it has not been pulled). */
    @Test
    void readmeExampleAsWrittenOnSmolLM2() throws Exception {
        Path file = ModelCache.fromEnvironment().pypiModelFile(PypiModel.SMOLLM2_135M_INSTRUCT);
        if (!Files.isRegularFile(file)) {
            if (System.getenv("MOICE_REQUIRE_SMOLLM2") != null) fail("SmolLM2 GGUF missing at " + file);
            Assumptions.abort("SmolLM2 not pulled (bin/moice pull smollm2-135m-instruct)");
        }
        Example example = Example.fromReadme();
        assertEquals(cliGenerate("smollm2-135m-instruct", example), run(example));
    }

    private static String cliGenerate(String model, Example example) {
        moice.cli.CliTest.Run cli = ApiTest.cli("generate", "--model", model, "--prompt", example.prompt(), "--max-tokens",
                example.maxTokens());
        assertEquals(0, cli.code(), cli.err());
        assertFalse(cli.out().isBlank());
        return cli.out();
    }

    /** Compiles the example against the test classpath and runs it in a child JVM; returns its stdout. */
    private String run(Example example) throws Exception {
        Path dir = Files.createTempDirectory(tmp, "example");
        Path src = dir.resolve("src").resolve(example.className() + ".java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, example.source());
        Path classes = Files.createDirectories(dir.resolve("classes"));
        String classpath = System.getProperty("java.class.path");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, "-d", classes.toString(), "-cp", classpath,
                "--add-modules", "jdk.incubator.vector", src.toString());
        assertEquals(0, rc, "javac: " + diagnostics.toString(StandardCharsets.UTF_8));

        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path stdout = dir.resolve("stdout.txt"), stderr = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(List.of(javaBin, "-Xmx1g", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", classes + java.io.File.pathSeparator + classpath,
                example.className())).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "the example did not finish");
        assertEquals(0, p.exitValue(), Files.readString(stderr));
        return Files.readString(stdout, StandardCharsets.UTF_8);
    }
}
