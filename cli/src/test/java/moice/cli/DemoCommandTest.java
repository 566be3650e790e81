package moice.cli;

import moice.api.EvalOptions;
import moice.api.Moice;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice demo} is a short {@code Moice.eval} of vanilla, equal weights and MoICE on the same prompts, scored
 * by log-likelihood: on a tiny model with its own routers it writes the rows the API's eval gives for that run, and
 * prints the summary with the paired comparisons. (The default model's run is what the README shows.)
 */
class DemoCommandTest {
    @TempDir
    Path tmp;

    @Test
    void demoIsTheLogLikelihoodEvalOfVanillaEqualAndMoice() throws IOException {
        Path model = TinyChatModel.write(tmp.resolve("tiny"), 2, 1024);
        Path routers = tmp.resolve("r.safetensors");
        CliTest.Run init = CliTest.run("routers", "init", "--model", model.toString(), "--base-ratios",
                "1,1.75,1.8,1.9,2,2.25,2.5", "--top-k", "3", "--seed", "2", "--out", routers.toString());
        assertEquals(0, init.code(), init.err());
        Path demoOut = tmp.resolve("demo"), evalOut = tmp.resolve("eval");
        CliTest.Run r = CliTest.run("demo", "--model", model.toString(), "--moice", routers.toString(), "--lengths", "300",
                "--depths", "0,1", "--samples", "2", "--out", demoOut.toString());
        assertEquals(0, r.code(), r.err());
        String summary = Files.readString(demoOut.resolve("summary.md"), StandardCharsets.UTF_8);
        assertTrue(r.out().startsWith(summary), r.out());
        assertTrue(summary.contains("| equal |") && summary.contains("| vanilla |")
                && summary.contains("## Paired difference: method − vanilla")
                && summary.contains("## Paired difference: method − equal") && summary.contains("Δ log-likelihood (nats)"), summary);
        assertTrue(Files.isRegularFile(demoOut.resolve("loglik_by_depth.png")));

        Moice.eval(EvalOptions.synthetic(model.toString(), "passkey", List.of(300),
                        List.of("vanilla", "equal", "moice:" + routers), evalOut).withDepths(List.of(0.0, 1.0))
                        .withSamples(2).withSeed(1).withScore("loglik"),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        List<ResultRow> expected = ResultsCsv.read(evalOut.resolve("results.csv")); // as printed, like the demo's
        List<ResultRow> demo = ResultsCsv.read(demoOut.resolve("results.csv"));
        assertEquals(12, expected.size(), "3 methods x 2 depths x 2 samples");
        assertEquals(expected.size(), demo.size());
        for (int i = 0; i < demo.size(); i++) {
            ResultRow a = demo.get(i), b = expected.get(i);
            assertEquals("loglik", a.scoring());
            assertEquals(List.of(b.method(), b.depth(), b.sample(), b.gold(), b.promptTokens(), b.loglik()),
                    List.of(a.method(), a.depth(), a.sample(), a.gold(), a.promptTokens(), a.loglik()));
        }
        // paired: the methods saw the same prompts and scored them differently
        ResultRow vanilla = demo.stream().filter(x -> x.method().equals("vanilla")).findFirst().orElseThrow();
        ResultRow equal = demo.stream().filter(x -> x.method().equals("equal") && x.depth() == vanilla.depth()
                && x.sample() == vanilla.sample()).findFirst().orElseThrow();
        assertEquals(vanilla.gold(), equal.gold());
        assertNotEquals(vanilla.loglik(), equal.loglik());
    }

    @Test
    void anotherModelNeedsItsRouters() throws IOException {
        Path model = TinyChatModel.write(tmp.resolve("tiny"));
        CliTest.Run r = CliTest.run("demo", "--model", model.toString(), "--out", tmp.resolve("out").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("moice: demo: the shipped routers are for SmolLM2-135M-Instruct"), r.err());
    }
}
