package moice.cli;

import moice.attention.Routers;
import moice.io.RouterFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code train-routers} end to end on the tiny chat model (real forward and backward pass), and its flag errors. */
class TrainRoutersCommandTest {
    @TempDir
    static Path tmp;
    static Path model, text, chat;

    @BeforeAll
    static void setUp() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 6; i++)
            sb.append("{\"text\": \"Document ").append(i).append(": the quick brown fox jumps over the lazy dog ")
                    .append("and keeps running along the river bank until night falls.\"}\n");
        text = Files.writeString(tmp.resolve("text.jsonl"), sb.toString());
        chat = Files.writeString(tmp.resolve("chat.jsonl"), """
                {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue, like the sea."}]}
                {"messages": [{"role": "user", "content": "Count to three."}, {"role": "assistant", "content": "One, two, three."}]}
                """);
    }

    /** The tiny-model run; flags in {@code extra} replace the defaults (picocli refuses a repeated option). */
    static String[] args(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("train-routers", "--model", model.toString(), "--data", text.toString(),
                "--out", out.toString(), "--base-ratios", "1,2,3"));
        String[][] defaults = {{"--batch", "2"}, {"--max-len", "24"}, {"--seed", "5"}, {"--top-k", "2"}};
        for (String[] d : defaults)
            if (Arrays.stream(extra).noneMatch(e -> e.equals(d[0]) || e.startsWith(d[0] + "="))) a.addAll(List.of(d));
        a.addAll(Arrays.asList(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void trainsWritesRoutersStateAndLogAndResumesToTheSameRouters() throws IOException {
        Path out = tmp.resolve("r3.safetensors"), log = tmp.resolve("r3.csv");
        CliTest.Run r = CliTest.run(args(out, "--steps", "3", "--lr", "1e-2", "--log", log.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("step 3/3"), r.err());
        Routers trained = RouterFile.read(out, 2, TinyChatModel.HEAD_DIM);
        assertArrayEquals(new double[]{1e4, 2e4, 3e4}, trained.bases(), 0);
        assertTrue(Files.exists(tmp.resolve("r3.safetensors.state")));
        List<String> rows = Files.readAllLines(log);
        assertEquals(4, rows.size());
        for (int s = 1; s <= 3; s++) {
            String[] f = rows.get(s).split(",");
            assertEquals(Integer.toString(s), f[0]);
            assertTrue(Double.parseDouble(f[1]) > 0 && Double.parseDouble(f[4]) > 0, rows.get(s));
        }

        Path twice = tmp.resolve("twice.safetensors");
        assertEquals(0, CliTest.run(args(twice, "--steps", "3", "--lr", "1e-2")).code());
        assertSameRouters(out, twice);
        // the initial routers are those of 'routers init' with the same seed
        Path init = tmp.resolve("init.safetensors");
        assertEquals(0, CliTest.run("routers", "init", "--model", model.toString(), "--base-ratios", "1,2,3",
                "--top-k", "2", "--seed", "5", "--out", init.toString()).code());
        Routers initial = RouterFile.read(init);
        assertFalse(Arrays.equals(initial.gate1()[0], trained.gate1()[0]), "training moved the routers");
        Path fromInit = tmp.resolve("from-init.safetensors");
        CliTest.Run i = CliTest.run("train-routers", "--model", model.toString(), "--data", text.toString(), "--out",
                fromInit.toString(), "--init", init.toString(), "--batch", "2", "--max-len", "24", "--seed", "5",
                "--steps", "3", "--lr", "1e-2");
        assertEquals(0, i.code(), i.err());
        assertSameRouters(out, fromInit);

        // two steps, then --resume to three: the same file
        Path part = tmp.resolve("part.safetensors");
        assertEquals(0, CliTest.run(args(part, "--steps", "2", "--lr", "1e-2")).code());
        CliTest.Run resumed = CliTest.run(args(part, "--steps", "3", "--lr", "1e-2", "--resume"));
        assertEquals(0, resumed.code(), resumed.err());
        assertSameRouters(out, part);

        CliTest.Run other = CliTest.run(args(part, "--steps", "4", "--lr", "2e-2", "--resume"));
        assertEquals(1, other.code());
        assertTrue(other.err().contains("--lr = 0.01") && other.err().contains("0.02"), other.err());
        CliTest.Run again = CliTest.run(args(part, "--steps", "4", "--lr", "1e-2"));
        assertEquals(1, again.code());
        assertTrue(again.err().contains("--resume"), again.err());
    }

    /**
     * The same routers bit for bit: every kernel of the forward and backward pass gives the same bits whichever JIT
     * tier runs it (moice.tensor.Exp, fixed-order lane sums) and whatever the thread count.
     */
    static void assertSameRouters(Path want, Path got) {
        Routers a = RouterFile.read(want), b = RouterFile.read(got);
        assertArrayEquals(a.bases(), b.bases(), 0);
        assertEquals(a.topK(), b.topK());
        for (int l = 0; l < a.numLayers(); l++) {
            moice.Bounds.assertSameBits(a.gate1()[l], b.gate1()[l], got + " gate_1 of layer " + l);
            moice.Bounds.assertSameBits(a.gate2()[l], b.gate2()[l], got + " gate_2 of layer " + l);
            moice.Bounds.assertSameBits(a.gate3()[l], b.gate3()[l], got + " gate_3 of layer " + l);
        }
    }

    /**
     * {@code bin/moice train-routers} on the tiny model (real forward and backward) in a child JVM, killed with
     * SIGKILL once two steps are on disk, then resumed, against an uninterrupted run in another child JVM: the same
     * routers bit for bit (the child JVMs inherit JDK_JAVA_OPTIONS, so both run at the suite's vector width).
     */
    @Test
    void killNineThenResumeEqualsAnUninterruptedRun() throws Exception {
        Path whole = tmp.resolve("whole.safetensors"), killed = tmp.resolve("killed.safetensors");
        String[] flags = {"--steps", "40", "--lr", "1e-2"};
        Process w = child(args(whole, flags), tmp.resolve("whole.out"));
        assertTrue(w.waitFor(180, java.util.concurrent.TimeUnit.SECONDS), "uninterrupted run did not finish");
        assertEquals(0, w.exitValue(), Files.readString(tmp.resolve("whole.out")));

        Process p = child(args(killed, flags), tmp.resolve("kill-1.out"));
        Path state = tmp.resolve("killed.safetensors.state");
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(120);
        while (stateStep(state) < 2 && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(2);
        assertTrue(p.isAlive(), "the child ended before the kill: " + Files.readString(tmp.resolve("kill-1.out")));
        p.destroyForcibly().waitFor();
        int at = stateStep(state);
        assertTrue(at >= 2 && at < 40, "killed at step " + at);

        List<String> resume = new ArrayList<>(Arrays.asList(args(killed, flags)));
        resume.add("--resume");
        Process q = child(resume.toArray(String[]::new), tmp.resolve("kill-2.out"));
        assertTrue(q.waitFor(180, java.util.concurrent.TimeUnit.SECONDS), "resume did not finish");
        assertEquals(0, q.exitValue(), Files.readString(tmp.resolve("kill-2.out")));
        assertSameRouters(whole, killed);
    }

    private static Process child(String[] cliArgs, Path output) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(Arrays.asList(cliArgs));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    }

    private static int stateStep(Path state) {
        if (!Files.exists(state)) return -1;
        try {
            return moice.train.TrainingState.read(state, RouterFile.read(tmp.resolve("whole.safetensors"))).step();
        } catch (RuntimeException e) {
            return -1; // being replaced at this moment
        }
    }

    @Test
    void assistantOnlyLossOnChatData() throws IOException {
        Path out = tmp.resolve("chat.safetensors");
        CliTest.Run r = CliTest.run("train-routers", "--model", model.toString(), "--data", chat.toString(), "--out",
                out.toString(), "--bases", "10000,20000", "--top-k", "1", "--steps", "1", "--batch", "2",
                "--max-len", "64", "--loss-on", "assistant");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("2 documents"), r.err());
        CliTest.Run text = CliTest.run(args(tmp.resolve("x.safetensors"), "--steps", "1", "--loss-on", "assistant"));
        assertEquals(1, text.code());
        assertTrue(text.err().contains("text.jsonl:1") && text.err().contains("assistant"), text.err());
    }

    @Test
    void badFlagsAreOneLineErrors() {
        Path out = tmp.resolve("bad.safetensors");
        String[][] cases = {
                {"--top-k", "4"}, {"expected an integer in [1, 3]"},
                {"--loss-on", "everything"}, {"--loss-on everything"},
                {"--steps", "0"}, {"--steps 0"},
                {"--batch=-1"}, {"--batch -1"},
                {"--lr", "0"}, {"--lr 0.0"},
                {"--max-len", "1"}, {"--max-len 1"},
                {"--aux-coef=-1"}, {"--aux-coef -1.0"},
                {"--max-documents", "0"}, {"--max-documents 0"},
        };
        for (int c = 0; c < cases.length; c += 2) {
            CliTest.Run r = CliTest.run(args(out, cases[c]));
            assertEquals(1, r.code(), Arrays.toString(cases[c]));
            assertTrue(r.err().contains(cases[c + 1][0]), Arrays.toString(cases[c]) + " -> " + r.err());
        }
        CliTest.Run base = CliTest.run("train-routers", "--model", model.toString(), "--data", text.toString(), "--out",
                out.toString(), "--bases", "10000,-5", "--top-k", "1");
        assertEquals(1, base.code());
        assertTrue(base.err().contains("--bases: element 2"), base.err());
        CliTest.Run none = CliTest.run("train-routers", "--model", model.toString(), "--data", text.toString(), "--out",
                out.toString());
        assertEquals(1, none.code());
        assertTrue(none.err().contains("--base-ratios"), none.err());
        CliTest.Run data = CliTest.run("train-routers", "--model", model.toString(), "--data", "nope.jsonl", "--out",
                out.toString(), "--bases", "1e4", "--top-k", "1");
        assertEquals(1, data.code());
        assertTrue(data.err().contains("nope.jsonl"), data.err());
        CliTest.Run resume = CliTest.run(args(tmp.resolve("never.safetensors"), "--resume"));
        assertEquals(1, resume.code());
        assertTrue(resume.err().contains("no training state"), resume.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void helpListsEveryFlag() {
        CliTest.Run r = CliTest.run("train-routers", "--help");
        assertEquals(0, r.code());
        for (String flag : List.of("--model", "--data", "--out", "--init", "--bases", "--base-ratios", "--top-k",
                "--steps", "--batch", "--lr", "--warmup-steps", "--weight-decay", "--max-len", "--aux-coef", "--seed",
                "--loss-on", "--max-documents", "--skip-bad-lines", "--resume", "--log"))
            assertTrue(r.out().contains(flag), flag + " missing from\n" + r.out());
    }
}
