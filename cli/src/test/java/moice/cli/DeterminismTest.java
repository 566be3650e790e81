package moice.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same command with the same inputs gives the same bytes, whatever the JIT does and whatever the thread count:
 * {@code forward} (MoICE, on a fixture model with its routers) and a sampled {@code generate} run in fresh JVMs at 1
 * and 2 threads, each cold (first call) and warm (after the JIT has compiled the kernels): every output file is
 * identical. (moice.attention.JitTierTest compares the kernels in the pure interpreter too.)
 */
class DeterminismTest {
    static final Path FIXTURE = Path.of("src/test/resources/moice/llama-gqa");

    @TempDir
    Path tmp;

    @Test
    void forwardAndGenerateGiveTheSameBytesColdWarmAndAtEveryThreadCount() throws Exception {
        Path chat = TinyChatModel.write(tmp.resolve("chat"));
        SplittableRandom rnd = new SplittableRandom(10);
        Path tokens = tmp.resolve("ids.json");
        Files.writeString(tokens, IntStream.range(0, 120).mapToObj(i -> Integer.toString(rnd.nextInt(256)))
                .collect(Collectors.joining(",", "[", "]")));
        String[] forward = {"--model", "src/test/resources/models/llama-gqa", "--tokens", tokens.toString(),
                "--moice", FIXTURE.resolve("routers.safetensors").toString()};
        List<Path> runs = new ArrayList<>();
        runs.add(child("one-thread", 1, 15, chat, forward));
        runs.add(child("two-threads", 2, 15, chat, forward));
        runs.add(child("two-threads-again", 2, 15, chat, forward));
        byte[] logits = Files.readAllBytes(runs.get(0).resolve("cold.safetensors"));
        String text = Files.readString(runs.get(0).resolve("generate-cold.txt"));
        assertTrue(logits.length > 120 * 256 * 4 && !text.isEmpty());
        for (Path run : runs)
            for (String phase : new String[]{"cold", "warm"}) {
                assertArrayEquals(logits, Files.readAllBytes(run.resolve(phase + ".safetensors")), run + " " + phase);
                assertEquals(text, Files.readString(run.resolve("generate-" + phase + ".txt")), run + " " + phase);
            }
    }

    private Path child(String name, int threads, int warmups, Path chat, String... forward)
            throws IOException, InterruptedException {
        Path out = Files.createDirectories(tmp.resolve(name));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "--add-modules", "jdk.incubator.vector",
                "-Dmoice.threads=" + threads));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), DeterminismChild.class.getName(),
                out.toString(), Integer.toString(warmups), chat.toString()));
        cmd.addAll(Arrays.asList(forward));
        Path log = tmp.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), name + " did not finish");
        assertEquals(0, p.exitValue(), Files.readString(log));
        return out;
    }
}
