package moice.api;

import moice.cli.TinyChatModel;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's "Use from Java" example, exactly as written there (between the {@code moice-java-example} markers),
 * compiles against the API and, run in a child JVM with the model name replaced by a tiny model's path, prints what
 * {@code bin/moice generate} prints for the same prompt and greedy settings.
 */
class ReadmeJavaExampleTest {
    static final Pattern BLOCK = Pattern.compile(
            "<!-- moice-java-example:begin -->\\s*```java\\n(.*?)```\\s*<!-- moice-java-example:end -->", Pattern.DOTALL);
    static final Pattern GENERATE = Pattern.compile(
            "generate\\(\"([^\"]*)\", GenerateOptions\\.greedy\\((\\d+)\\)\\)");
    static final Pattern CLASS = Pattern.compile("public class (\\w+)");

    @TempDir
    Path tmp;

    @Test
    void readmeExampleRunsAndPrintsWhatTheCommandLinePrints() throws Exception {
        Matcher block = BLOCK.matcher(Files.readString(Path.of("README.md"), StandardCharsets.UTF_8));
        assertTrue(block.find(), "README.md has no moice-java-example block");
        String source = block.group(1);
        assertTrue(source.contains("Moice.load(\"smollm2-135m-instruct\")"), "the example loads SmolLM2 by name");
        Matcher generate = GENERATE.matcher(source);
        assertTrue(generate.find(), "the example generates greedily from a literal prompt");
        String prompt = generate.group(1), maxTokens = generate.group(2);
        Matcher cls = CLASS.matcher(source);
        assertTrue(cls.find(), "the example declares a public class");

        Path model = TinyChatModel.write(tmp.resolve("tiny"));
        String literal = model.toAbsolutePath().toString().replace("\\", "\\\\").replace("\"", "\\\"");
        Path src = tmp.resolve("src").resolve(cls.group(1) + ".java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, source.replace("\"smollm2-135m-instruct\"", "\"" + literal + "\""));

        Path classes = Files.createDirectories(tmp.resolve("classes"));
        String classpath = System.getProperty("java.class.path");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, "-d", classes.toString(), "-cp", classpath,
                "--add-modules", "jdk.incubator.vector", src.toString());
        assertEquals(0, rc, "javac: " + diagnostics.toString(StandardCharsets.UTF_8));

        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path stdout = tmp.resolve("stdout.txt"), stderr = tmp.resolve("stderr.txt");
        Process p = new ProcessBuilder(List.of(javaBin, "-Xmx512m", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", classes + java.io.File.pathSeparator + classpath,
                cls.group(1))).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "the example did not finish");
        assertEquals(0, p.exitValue(), Files.readString(stderr));

        ApiTest.Cli cli = ApiTest.cli("generate", "--model", model.toString(), "--prompt", prompt, "--max-tokens",
                maxTokens);
        assertEquals(0, cli.code(), cli.err());
        assertTrue(!cli.out().isBlank());
        assertEquals(cli.out(), Files.readString(stdout, StandardCharsets.UTF_8));
    }
}
