package moice.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bin/aot.sh, the JDK AOT cache bin/moice keeps for start-up, driven the way bin/moice sources it, on a small program
 * with this JDK: the first run records and leaves one cache (atomically, no temporary files), later runs use it and
 * print the same; a rebuilt jar (even of the same size) gets a cache of its own and never runs stale archived classes;
 * a corrupt cache is reported in one line, removed, and the run goes on; exit codes and stdout are the program's.
 */
class AotLauncherTest {
    private static final Path AOT_SH = Path.of("..", "bin", "aot.sh").toAbsolutePath().normalize();
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @TempDir
    static Path tmp;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void checkTools() {
        assertTrue(Files.isRegularFile(AOT_SH), AOT_SH.toString());
    }

    /** A jar whose main class prints GREETING and its arguments, says on stderr whether it ran with an AOT cache, and
     * exits with the number given after "exit". */
    private static Path writeJar(Path dir, String greeting) throws IOException {
        Files.createDirectories(dir);
        Path src = dir.resolve("Hello.java");
        Files.writeString(src, """
                public class Hello {
                    public static void main(String[] a) {
                        boolean cached = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
                                .stream().anyMatch(s -> s.startsWith("-XX:AOTCache="));
                        System.err.println("cached=" + cached);
                        System.out.println("GREETING " + String.join(" ", a));
                        if (a.length == 2 && a[0].equals("exit")) System.exit(Integer.parseInt(a[1]));
                    }
                }
                """.replace("GREETING", greeting));
        assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", dir.toString(), src.toString()));
        Path jar = dir.resolve("hello.jar");
        byte[] bytes = Files.readAllBytes(dir.resolve("Hello.class"));
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(bytes);
        JarEntry e = new JarEntry("Hello.class"); // stored, with a fixed time: same-length greetings, same-size jars
        e.setMethod(JarEntry.STORED);
        e.setSize(bytes.length);
        e.setCompressedSize(bytes.length);
        e.setCrc(crc.getValue());
        e.setTime(0);
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(e);
            out.write(bytes);
            out.closeEntry();
        }
        return jar;
    }

    private static Run run(Path aotDir, Path jar, boolean record, String... args) throws Exception {
        String script = ". \"$AOT_SH\"; AOT_DIR=\"$DIR\"; AOT_RECORD=" + (record ? 1 : 0)
                + "; AOT_KEY_FILES=(\"$JARF\"); aot_run \"$JAVA_BIN\" -cp \"$JARF\" -- Hello \"$@\"";
        List<String> cmd = new java.util.ArrayList<>(List.of("bash", "-c", script, "aot-test"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("AOT_SH", AOT_SH.toString());
        pb.environment().put("DIR", aotDir.toString());
        pb.environment().put("JARF", jar.toString());
        pb.environment().put("JAVA_BIN", JAVA);
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        Process p = pb.start();
        p.getOutputStream().close();
        // read to the end: the pipes close only when the JVM and bin/aot.sh's stderr filter (which outlives the
        // exec'd JVM by a moment) have both finished; the outputs are small, so one after the other cannot block
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out, err);
    }

    private static List<String> files(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("create.log")).sorted().toList();
        }
    }

    @Test
    void recordsOnceUsesItAndNeverRunsStaleClasses() throws Exception {
        Path aot = tmp.resolve("aot");
        Path jar = writeJar(tmp.resolve("v1"), "hello");

        Run first = run(aot, jar, true, "a", "b");
        assertEquals(0, first.code(), first.err());
        assertEquals("hello a b\n", first.out());
        assertEquals("cached=false\n", first.err(), "the recording's notices stay off the terminal");
        List<String> cache = files(aot);
        assertEquals(1, cache.size(), "one cache, no temporary files: " + cache);
        assertTrue(cache.get(0).matches("moice-\\d+\\.aot"), cache.toString());

        Run second = run(aot, jar, true, "a", "b");
        assertEquals(new Run(0, "hello a b\n", "cached=true\n"), second);
        assertEquals(7, run(aot, jar, true, "exit", "7").code(), "exit code of the program, with the cache");

        // the same program rebuilt with another greeting (a jar of the same size): a new key, the new classes
        Path jar2 = writeJar(tmp.resolve("v2"), "howdy");
        assertEquals(Files.size(jar), Files.size(jar2));
        Files.copy(jar2, jar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Run rebuilt = run(aot, jar, true, "a");
        assertEquals(new Run(0, "howdy a\n", "cached=false\n"), rebuilt);
        List<String> after = files(aot);
        assertEquals(1, after.size(), after.toString());
        assertNotEquals(cache, after, "the old key's cache is removed");
        assertEquals(new Run(0, "howdy a\n", "cached=true\n"), run(aot, jar, true, "a"));
        assertEquals(5, run(aot, jar, false, "exit", "5").code());
    }

    @Test
    void aCorruptCacheIsReportedRemovedAndTheRunGoesOn() throws Exception {
        Path aot = tmp.resolve("aot-corrupt");
        Path jar = writeJar(tmp.resolve("c"), "hi");
        assertEquals(0, run(aot, jar, true, "x").code());
        Path cache = aot.resolve(files(aot).get(0));
        Files.writeString(cache, "not a cache");

        Run r = run(aot, jar, false, "x");
        assertEquals(0, r.code());
        assertEquals("hi x\n", r.out());
        List<String> lines = r.err().lines().filter(l -> !l.startsWith("cached=")).toList();
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.get(0).startsWith("moice: the start-up cache " + cache) && lines.get(0).contains("unusable"),
                lines.get(0));
        assertFalse(Files.exists(cache), "removed, so the next recording run makes a new one");
    }

    @Test
    void withoutRecordingNothingIsWritten() throws Exception {
        Path aot = tmp.resolve("aot-none");
        Path jar = writeJar(tmp.resolve("n"), "hey");
        assertEquals(new Run(0, "hey \n", "cached=false\n"), run(aot, jar, false));
        assertEquals(List.of(), files(aot));
    }
}
