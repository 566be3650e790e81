package moice.train;

import moice.attention.Routers;
import moice.io.RouterFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A training run in a child JVM is killed with SIGKILL (after a checkpoint appears, then at a random moment), resumed
 * each time, and must end with routers bit-identical to an uninterrupted run.
 */
class TrainerKillResumeTest {
    static final int STEPS = 14;
    static final long SLEEP_MS = 25; // per sequence: a step takes ~75 ms, so kills land mid-step as well

    @TempDir
    Path tmp;

    static Process child(Path dir, String mode) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx96m", "-XX:TieredStopAtLevel=1",
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                TrainingChild.class.getName(), dir.toString(), Integer.toString(STEPS), Long.toString(SLEEP_MS), mode));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child-" + System.nanoTime() + ".out").toFile()).start();
    }

    static int stateStep(Path dir) {
        Path state = dir.resolve("routers.safetensors.state");
        if (!Files.exists(state)) return -1;
        return TrainingState.read(state, TrainerTest.initialRouters()).step();
    }

    @Test
    void killedTwiceAndResumedEndsBitIdentical() throws Exception {
        Path whole = Files.createDirectories(tmp.resolve("whole")), killed = Files.createDirectories(tmp.resolve("killed"));
        Routers want = TrainerTest.train(whole, STEPS);

        // kill 1: once the state shows step 3 (the child is then somewhere inside step 4)
        Process p = child(killed, "fresh");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (stateStep(killed) < 3 && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(p.isAlive(), "the child finished or failed before it could be killed: " + output(killed));
        p.destroyForcibly().waitFor();
        int first = stateStep(killed);
        assertTrue(first >= 3 && first < STEPS, "killed at step " + first);

        // kill 2: at a random moment of the resumed run (JVM start-up included)
        long seed = System.nanoTime();
        int delay = 300 + new Random(seed).nextInt(900);
        Process q = child(killed, "resume");
        q.waitFor(delay, TimeUnit.MILLISECONDS);
        q.destroyForcibly().waitFor();
        int second = stateStep(killed);
        assertTrue(second >= first, "random kill (seed " + seed + ", " + delay + " ms): step " + second);

        Process r = child(killed, "resume");
        assertTrue(r.waitFor(120, TimeUnit.SECONDS), "resume did not finish");
        assertEquals(0, r.exitValue(), output(killed));
        assertEquals(STEPS, stateStep(killed));
        assertArrayEquals(Files.readAllBytes(whole.resolve("routers.safetensors")),
                Files.readAllBytes(killed.resolve("routers.safetensors")),
                "random kill seed " + seed + " after " + delay + " ms");
        TrainerTest.assertSameRouters(want, RouterFile.read(killed.resolve("routers.safetensors")));
        TrainerTest.assertSameMoments(TrainingState.read(whole.resolve("routers.safetensors.state"), want),
                TrainingState.read(killed.resolve("routers.safetensors.state"), want));
        List<String> log = Files.readAllLines(killed.resolve("log.csv"));
        assertEquals(STEPS + 1, log.size(), String.join("\n", log));
        for (int s = 1; s <= STEPS; s++) assertTrue(log.get(s).startsWith(s + ","), log.get(s));
    }

    static String output(Path dir) throws IOException {
        StringBuilder sb = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("child-")).toList())
                sb.append(Files.readString(f)).append(File.separator);
        }
        return sb.toString();
    }
}
