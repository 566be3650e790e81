package moice.cli;

import moice.api.EvalOptions;
import moice.api.Moice;
import moice.attention.Routers;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.io.RouterFile;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice demo} is a short {@code Moice.eval} of vanilla against MoICE: on a tiny model with given routers it
 * writes the rows the API's eval gives for the same task, and prints the summary it wrote.
 */
class DemoCommandTest {
    @TempDir
    Path tmp;

    @Test
    void demoIsTheEvalOfVanillaAgainstMoice() throws IOException {
        Path model = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
        Path routers = tmp.resolve("r.safetensors");
        try (var engine = Moice.load(model)) {
            var cfg = engine.config();
            RouterFile.write(Routers.random(new double[]{cfg.ropeTheta(), 2 * cfg.ropeTheta(), 3 * cfg.ropeTheta()}, 2,
                    cfg.headDim(), cfg.numLayers(), 0.5, 1), routers);
        }
        Path demoOut = tmp.resolve("demo"), evalOut = tmp.resolve("eval");
        CliTest.Run r = CliTest.run("demo", "--model", model.toString(), "--moice", routers.toString(), "--task", "passkey",
                "--lengths", "300", "--depths", "0,1", "--samples", "1", "--seed", "3", "--out", demoOut.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith(Files.readString(demoOut.resolve("summary.md"), StandardCharsets.UTF_8)), r.out());

        List<ResultRow> expected = Moice.eval(EvalOptions.synthetic(model.toString(), "passkey", List.of(300),
                        List.of("vanilla", "moice:" + routers), evalOut).withDepths(List.of(0.0, 1.0)).withSamples(1).withSeed(3),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        List<ResultRow> demo = ResultsCsv.read(demoOut.resolve("results.csv"));
        assertEquals(4, expected.size());
        assertEquals(expected.size(), demo.size());
        for (int i = 0; i < demo.size(); i++) {
            ResultRow a = demo.get(i), b = expected.get(i);
            assertEquals(List.of(b.method(), b.length(), b.depth(), b.prediction(), b.gold(), b.correct(), b.promptTokens()),
                    List.of(a.method(), a.length(), a.depth(), a.prediction(), a.gold(), a.correct(), a.promptTokens()));
        }
    }

    @Test
    void anotherModelNeedsItsRouters() throws IOException {
        Path model = TinyChatModel.write(tmp.resolve("tiny"));
        CliTest.Run r = CliTest.run("demo", "--model", model.toString(), "--out", tmp.resolve("out").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("moice: demo: the shipped routers are for SmolLM2-135M-Instruct"), r.err());
    }
}
