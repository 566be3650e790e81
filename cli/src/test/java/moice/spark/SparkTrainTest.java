package moice.spark;

import moice.Bounds;
import moice.attention.Routers;
import moice.cli.CliTest;
import moice.cli.TinyChatModel;
import moice.load.LoadedModel;
import moice.train.DataOrder;
import moice.train.ModelObjective;
import moice.train.RouterGradients;
import moice.train.TokenSequence;
import moice.train.TrainingData;
import moice.train.TrainingLog;
import moice.train.TrainingState;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice train-routers --spark local[2]} against the same command without Spark, step by step. Both sum the
 * same per-sequence float32 gradients in double, in different orders (batch order here; Spark's partitions and tree
 * there), and round once to float; so the step's gradient may differ by at most
 * {@link Bounds#reorderedDoubleSum}(B, Σ_s|g_s|, g) per value, where the per-sequence gradients g_s are computed here
 * independently (the model's objective on each sequence of the step). The first AdamW moment after a step from zero
 * moments is float(0.1·g), which the training state stores: it is compared with that bound scaled by 0.1, plus one
 * float32 rounding of each side. The losses are computed per sequence by the same code and summed in batch order by
 * the driver: equal bit for bit. Where both moments agree bit for bit, the routers must too; elsewhere an Adam step
 * moves a weight by at most lr, so they differ by at most 2·lr. The second step continues both runs with --resume.
 * About a minute (four JVMs): run by .ci/run (MOICE_SPARK_FULL=1), not by the default suite.
 */
@EnabledIfEnvironmentVariable(named = "MOICE_SPARK_FULL", matches = "1")
class SparkTrainTest {
    @TempDir
    static Path tmp;
    static Path model, text;
    static final int BATCH = 4, MAX_LEN = 24;
    static final long SEED = 5;
    static final double LR = 1e-2;

    @BeforeAll
    static void setUp() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++)
            sb.append("{\"text\": \"Document ").append(i).append(": the quick brown fox jumps over the lazy dog ")
                    .append("and keeps running along the river bank until night falls.\"}\n");
        text = Files.writeString(tmp.resolve("text.jsonl"), sb.toString());
    }

    static String[] args(Path out, int steps, String... extra) {
        List<String> a = new ArrayList<>(List.of("train-routers", "--model", model.toString(), "--data", text.toString(),
                "--out", out.toString(), "--base-ratios", "1,2,3", "--top-k", "2", "--batch", String.valueOf(BATCH),
                "--max-len", String.valueOf(MAX_LEN), "--seed", String.valueOf(SEED), "--lr", String.valueOf(LR),
                "--steps", String.valueOf(steps)));
        a.addAll(Arrays.asList(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void routersEqualTheLocalRunWithinTheSummationBoundAndResume() {
        Path local = tmp.resolve("local.safetensors"), spark = tmp.resolve("spark.safetensors");
        Routers shape = Routers.random(new double[]{1e4, 2e4, 3e4}, 2, TinyChatModel.HEAD_DIM, 2, 0.02, SEED);
        // the routers each run's step starts from: first what `routers init --seed 5` makes
        Routers before = shape, beforeB = shape;
        float[] previousMa = null, previousMb = null;
        for (int step = 1; step <= 2; step++) {
            String[] resume = step == 1 ? new String[0] : new String[]{"--resume"};
            CliTest.Run l = CliTest.run(args(local, step, resume));
            assertEquals(0, l.code(), l.err());
            String[] sparkArgs = Arrays.copyOf(resume, resume.length + 2);
            sparkArgs[resume.length] = "--spark";
            sparkArgs[resume.length + 1] = "local[2]";
            CliTest.Run s = CliTest.run(args(spark, step, sparkArgs));
            assertEquals(0, s.code(), s.err());
            assertTrue(s.err().contains("step " + step + "/" + step), s.err());

            TrainingState a = TrainingState.read(moice.train.Trainer.stateFileFor(local), shape);
            TrainingState b = TrainingState.read(moice.train.Trainer.stateFileFor(spark), shape);
            assertEquals(step, a.step());
            assertEquals(step, b.step());
            TrainingLog.Row ra = a.history().get(step - 1), rb = b.history().get(step - 1);
            assertEquals(ra.tokens(), rb.tokens());
            boolean sameStart = sameRouters(before, beforeB);
            float[] ma = flat(a.firstMoments()), mb = flat(b.firstMoments());
            float[] va = flat(a.secondMoments()), vb = flat(b.secondMoments());
            float[] wa = flat(a.routers()), wb = flat(b.routers());
            if (sameStart) {
                assertEquals(ra.loss(), rb.loss(), 0, "per-sequence losses, summed in batch order");
                assertEquals(ra.ce(), rb.ce(), 0);
                assertEquals(ra.aux(), rb.aux(), 0);
                // Σ_s |g_s| of this step's sequences at the routers the step started from (the same in both runs)
                double[] sumAbs = perSequenceSumAbs(before, step);
                for (int i = 0; i < ma.length; i++) {
                    float m0a = step == 1 ? 0 : previousMa[i], m0b = step == 1 ? 0 : previousMb[i];
                    if (m0a != m0b) continue; // moments that already differed are covered by the weight check
                    // m = float(0.9·m0 + 0.1·g), so |g| ≤ (|m| + 0.9·|m0|) / 0.1 up to one rounding of m
                    double g = (Math.abs(ma[i]) + Math.ulp(ma[i]) + 0.9 * Math.abs(m0a)) / 0.1;
                    double bound = 0.1 * Bounds.reorderedDoubleSum(BATCH, sumAbs[i], g * (1 + 0x1p-20))
                            + Math.ulp(ma[i]) + Math.ulp(mb[i]);
                    assertTrue(Math.abs(ma[i] - mb[i]) <= bound, "step " + step + ", first moment " + i + ": " + ma[i]
                            + " vs " + mb[i] + ", bound " + bound);
                }
            }
            for (int i = 0; i < ma.length; i++) {
                if (ma[i] == mb[i] && va[i] == vb[i] && sameStart)
                    assertEquals(wa[i], wb[i], 0, "step " + step + ", weight " + i);
                else assertTrue(Math.abs(wa[i] - wb[i]) <= 2 * LR * step, "step " + step + ", weight " + i);
            }
            before = a.routers();
            beforeB = b.routers();
            previousMa = ma;
            previousMb = mb;
        }
    }

    static boolean sameRouters(Routers a, Routers b) {
        return Arrays.equals(flat(a), flat(b));
    }

    /** Σ over the step's sequences of |g_s| per value, each g_s computed alone with scale 1/B at {@code routers}. */
    static double[] perSequenceSumAbs(Routers routers, int step) {
        try (LoadedModel m = LoadedModel.open(model)) {
            TrainingData data = TrainingData.load(text, m.tokenizer(), m::chatTemplate, MAX_LEN, TrainingData.LossOn.ALL,
                    false);
            DataOrder order = new DataOrder(SEED, data.sequences().size());
            ModelObjective objective = new ModelObjective(m.model());
            RouterGradients one = RouterGradients.zerosLike(routers);
            double[] sumAbs = new double[one.size()];
            for (int j = 0; j < BATCH; j++) {
                TokenSequence seq = data.sequences().get(order.sequenceAt((long) (step - 1) * BATCH + j));
                one.clear();
                objective.evaluate(seq.tokens(), seq.targets(), routers, 0.3, one, 1f / BATCH);
                float[] g = flat(one);
                for (int i = 0; i < g.length; i++) sumAbs[i] += Math.abs(g[i]);
            }
            return sumAbs;
        }
    }

    static float[] flat(Routers r) {
        return flat(new RouterGradients(r.gate1(), r.gate2(), r.gate3()));
    }

    static float[] flat(RouterGradients g) {
        double[] d = new double[g.size()];
        g.addTo(d);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
