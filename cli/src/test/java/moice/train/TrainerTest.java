package moice.train;

import moice.MoiceException;
import moice.attention.Routers;
import moice.io.RouterFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Trainer} with {@link QuadraticObjective}, whose gradients are known in closed form. */
class TrainerTest {
    static final double LR = 1e-3;
    static final int BATCH = 3, SEQUENCES = 7;

    @TempDir
    Path tmp;

    /** 7 sequences of different lengths; one carries a mask. */
    static TrainingData data() {
        List<TokenSequence> seqs = new ArrayList<>();
        for (int s = 0; s < SEQUENCES; s++) {
            int[] t = new int[3 + s];
            for (int i = 0; i < t.length; i++) t[i] = 5 + 11 * s + 3 * i;
            boolean[] mask = null;
            if (s == 4) {
                mask = new boolean[t.length];
                mask[2] = mask[5] = true;
            }
            seqs.add(new TokenSequence(t, mask));
        }
        return TrainingData.of(seqs);
    }

    /** Two layers, N = 3, d = 4, normal(0, 0.02). */
    static Routers initialRouters() {
        return Routers.random(new double[]{1e4, 1.75e4, 2e4}, 2, 4, 2, 0.02, 42);
    }

    static Trainer.Config config(Path dir, int steps, double lr) {
        return config(dir, steps, lr, 7);
    }

    static Trainer.Config config(Path dir, int steps, double lr, long seed) {
        Path out = dir.resolve("routers.safetensors");
        return new Trainer.Config(steps, BATCH, 0.3, seed, AdamW.Settings.of(lr), out, Trainer.stateFileFor(out),
                dir.resolve("log.csv"), Map.of("lr", Double.toString(lr), "seed", Long.toString(seed)));
    }

    static Routers train(Path dir, int steps) {
        return new Trainer(config(dir, steps, LR), new QuadraticObjective(), data(), null).train(initialRouters()).routers();
    }

    static void assertSameRouters(Routers want, Routers got) {
        for (int l = 0; l < want.numLayers(); l++) {
            assertArrayEquals(want.gate1()[l], got.gate1()[l]);
            assertArrayEquals(want.gate2()[l], got.gate2()[l]);
            assertArrayEquals(want.gate3()[l], got.gate3()[l]);
        }
    }

    Path dir(String name) throws IOException {
        return Files.createDirectories(tmp.resolve(name));
    }

    /** First step worked by hand: g = mean of the per-sequence gradients, and Adam's first step is lr·g/(|g|+ε). */
    @Test
    void firstStepIsAdamOnTheBatchMeanGradient() throws IOException {
        // a batch of all 7 sequences: one epoch, whatever the order
        Path d = dir("one");
        Path out = d.resolve("r.safetensors");
        Trainer.Config c = new Trainer.Config(1, SEQUENCES, 0.3, 1, AdamW.Settings.of(LR), out,
                Trainer.stateFileFor(out), null, Map.of());
        Routers init = initialRouters();
        Routers got = new Trainer(c, new QuadraticObjective(), data(), null).train(init).routers();
        int i = 0;
        for (int l = 0; l < 2; l++) {
            float[][] w0 = {init.gate1()[l], init.gate2()[l], init.gate3()[l]};
            float[][] w1 = {got.gate1()[l], got.gate2()[l], got.gate3()[l]};
            for (int k = 0; k < 3; k++)
                for (int j = 0; j < w0[k].length; j++, i++) {
                    double g = 0;
                    for (TokenSequence s : data().sequences())
                        g += (w0[k][j] - QuadraticObjective.target(s.tokens(), i) + 0.6 * w0[k][j]) / SEQUENCES;
                    double want = w0[k][j] - LR * g / (Math.abs(g) + 1e-8);
                    assertEquals(want, w1[k][j], 1e-8, "weight " + i);
                }
        }
        assertSameRouters(got, RouterFile.read(out));
        assertFalse(init.gate1()[0] == got.gate1()[0], "the initial routers are copied, not trained in place");
    }

    @Test
    void visitsSequencesInTheSeededPerEpochOrder() {
        List<Integer> seen = new ArrayList<>();
        RouterObjective recorder = (tokens, targets, routers, aux, grads, scale) -> {
            seen.add((tokens[0] - 5) / 11);
            return new RouterObjective.Loss(1, 1, 0, 1);
        };
        int steps = 5;
        new Trainer(new Trainer.Config(steps, BATCH, 0, 9, AdamW.Settings.of(LR), tmp.resolve("r"),
                tmp.resolve("s"), null, Map.of()), recorder, data(), null).train(initialRouters());
        assertEquals(steps * BATCH, seen.size());
        DataOrder order = new DataOrder(9, SEQUENCES);
        for (int p = 0; p < seen.size(); p++) assertEquals(order.sequenceAt(p), seen.get(p));
        // each epoch is a permutation, and epochs differ
        List<Integer> e0 = seen.subList(0, SEQUENCES), e1 = seen.subList(SEQUENCES, 2 * SEQUENCES);
        assertEquals(SEQUENCES, new HashSet<>(e0).size());
        assertEquals(SEQUENCES, new HashSet<>(e1).size());
        assertNotEquals(e0, e1);
        Set<List<Integer>> orders = new HashSet<>();
        for (long seed = 0; seed < 5; seed++) {
            DataOrder o = new DataOrder(seed, SEQUENCES);
            List<Integer> l = new ArrayList<>();
            for (int p = 0; p < SEQUENCES; p++) l.add(o.sequenceAt(p));
            orders.add(l);
        }
        assertTrue(orders.size() > 1, "the seed changes the order");
    }

    @Test
    void sameInputsGiveBitIdenticalRoutersAndResumeContinuesExactly() throws IOException {
        Routers a = train(dir("a"), 9), b = train(dir("b"), 9);
        assertSameRouters(a, b);
        assertArrayEquals(Files.readAllBytes(tmp.resolve("a/routers.safetensors")),
                Files.readAllBytes(tmp.resolve("b/routers.safetensors")));

        // a run stopped after 4 steps and continued to 9
        Path c = dir("c");
        train(c, 4);
        Routers resumed = new Trainer(config(c, 9, LR), new QuadraticObjective(), data(), null)
                .resume(initialRouters()).routers();
        assertSameRouters(a, resumed);
        assertArrayEquals(Files.readAllBytes(tmp.resolve("a/routers.safetensors")),
                Files.readAllBytes(c.resolve("routers.safetensors")));
        TrainingState sa = TrainingState.read(tmp.resolve("a/routers.safetensors.state"), a);
        TrainingState sc = TrainingState.read(c.resolve("routers.safetensors.state"), a);
        assertEquals(9, sc.step());
        assertSameMoments(sa, sc);
        List<String> log = Files.readAllLines(c.resolve("log.csv"));
        assertEquals(TrainingLog.HEADER, log.get(0));
        assertEquals(10, log.size());
        for (int s = 1; s <= 9; s++) assertTrue(log.get(s).startsWith(s + ","), log.get(s));
        long tokens = Long.parseLong(log.get(1).split(",")[6]);
        assertTrue(tokens >= 3 * BATCH && tokens <= 9 * BATCH, "tokens of step 1: " + tokens);
    }

    static void assertSameMoments(TrainingState want, TrainingState got) {
        for (int l = 0; l < 2; l++) {
            assertArrayEquals(want.firstMoments().gate1()[l], got.firstMoments().gate1()[l]);
            assertArrayEquals(want.firstMoments().gate2()[l], got.firstMoments().gate2()[l]);
            assertArrayEquals(want.secondMoments().gate3()[l], got.secondMoments().gate3()[l]);
        }
    }

    /** Killed between writing the state and the router file: the router file is a step behind and gets rewritten. */
    @Test
    void resumeRepairsARouterFileThatLagsTheState() throws IOException {
        Path full = dir("full"), lag = dir("lag"), three = dir("three");
        Routers want = train(full, 6);
        train(three, 3);
        train(lag, 4);
        Files.copy(three.resolve("routers.safetensors"), lag.resolve("routers.safetensors"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        // resuming a finished run only repairs the file
        Routers four = new Trainer(config(lag, 4, LR), new QuadraticObjective(), data(), null)
                .resume(initialRouters()).routers();
        assertSameRouters(four, RouterFile.read(lag.resolve("routers.safetensors")));
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(three.resolve("routers.safetensors")),
                Files.readAllBytes(lag.resolve("routers.safetensors"))));
        Routers got = new Trainer(config(lag, 6, LR), new QuadraticObjective(), data(), null)
                .resume(initialRouters()).routers();
        assertSameRouters(want, got);
        assertSameRouters(want, RouterFile.read(lag.resolve("routers.safetensors")));
    }

    @Test
    void nanLossStopsAndKeepsTheLastGoodCheckpoint() throws IOException {
        Path good = dir("good"), bad = dir("bad");
        Routers afterTwo = train(good, 2);
        // call 7 is the second sequence of step 3
        Trainer t = new Trainer(config(bad, 5, LR), new QuadraticObjective(0, 7), data(), null);
        MoiceException e = assertThrows(MoiceException.class, () -> t.train(initialRouters()));
        assertTrue(e.getMessage().contains("step 3") && e.getMessage().contains("NaN")
                && e.getMessage().contains("routers of step 2"), e.getMessage());
        assertSameRouters(afterTwo, RouterFile.read(bad.resolve("routers.safetensors")));
        assertEquals(2, TrainingState.read(bad.resolve("routers.safetensors.state"), afterTwo).step());
        assertEquals(3, Files.readAllLines(bad.resolve("log.csv")).size(), "header and two rows");
    }

    @Test
    void refusesToOverwriteAStateOrResumeWithOtherArguments() throws IOException {
        Path d = dir("d");
        train(d, 2);
        MoiceException again = assertThrows(MoiceException.class, () -> train(d, 2));
        assertTrue(again.getMessage().contains("--resume"), again.getMessage());
        MoiceException lr = assertThrows(MoiceException.class, () -> new Trainer(config(d, 3, 2e-3),
                new QuadraticObjective(), data(), null).resume(initialRouters()));
        assertTrue(lr.getMessage().contains("lr = 0.001") && lr.getMessage().contains("0.002"), lr.getMessage());
        MoiceException back = assertThrows(MoiceException.class, () -> new Trainer(config(d, 1, LR),
                new QuadraticObjective(), data(), null).resume(initialRouters()));
        assertTrue(back.getMessage().contains("beyond --steps 1"), back.getMessage());
        MoiceException none = assertThrows(MoiceException.class, () -> new Trainer(config(dir("empty"), 3, LR),
                new QuadraticObjective(), data(), null).resume(initialRouters()));
        assertTrue(none.getMessage().contains("no training state"), none.getMessage());
        Routers otherShape = Routers.random(new double[]{1e4, 1.75e4, 2e4}, 3, 4, 2, 0.02, 42);
        assertThrows(MoiceException.class, () -> new Trainer(config(d, 3, LR), new QuadraticObjective(), data(), null)
                .resume(otherShape));
    }
}
