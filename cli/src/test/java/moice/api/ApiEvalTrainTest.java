package moice.api;

import moice.attention.Routers;
import moice.cli.TinyChatModel;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.io.RouterFile;
import moice.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The evaluation and training entry points of the API do what {@code bin/moice eval} and {@code train-routers} do:
 * the same rows, the same routers.
 */
class ApiEvalTrainTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
    }

    static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    }

    @Test
    void evalGivesTheRowsOfTheCommand() {
        Path cliOut = tmp.resolve("eval-cli"), apiOut = tmp.resolve("eval-api");
        moice.cli.CliTest.Run r = ApiTest.cli("eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300",
                "--depths", "0,1", "--samples", "1", "--methods", "vanilla,equal", "--seed", "3", "--max-new-tokens", "6",
                "--out", cliOut.toString());
        assertEquals(0, r.code(), r.err());
        EvalOptions options = new EvalOptions(model.toString(), "passkey", null, List.of(300), List.of(0.0, 1.0), 1,
                List.of("vanilla", "equal"), 3, 6, "generate", apiOut, false, null, null, null, false);
        List<ResultRow> rows = Moice.eval(options, quiet());
        List<ResultRow> cliRows = ResultsCsv.read(cliOut.resolve("results.csv"));
        assertEquals(4, rows.size());
        assertEquals(cliRows.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            ResultRow a = rows.get(i), b = cliRows.get(i);
            assertEquals(List.of(b.method(), b.length(), b.depth(), b.prediction(), b.gold(), b.correct(), b.promptTokens()),
                    List.of(a.method(), a.length(), a.depth(), a.prediction(), a.gold(), a.correct(), a.promptTokens()));
        }
        assertTrue(Files.isRegularFile(apiOut.resolve("summary.md")));
        // a second run resumes (nothing left to do) and returns the same rows
        assertEquals(rows.size(), Moice.eval(options, quiet()).size());
        // merging a finished run keeps its rows
        List<ResultRow> merged = Moice.mergeEvals(List.of(apiOut), tmp.resolve("merged"), quiet());
        assertEquals(rows.size(), merged.size());
    }

    @Test
    void trainRoutersGivesTheRoutersOfTheCommand() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 4; i++)
            sb.append("{\"text\": \"Document ").append(i).append(": the quick brown fox jumps over the lazy dog.\"}\n");
        Path data = Files.writeString(tmp.resolve("text.jsonl"), sb.toString());
        Path cliOut = tmp.resolve("r-cli.safetensors"), apiOut = tmp.resolve("r-api.safetensors");
        moice.cli.CliTest.Run r = ApiTest.cli("train-routers", "--model", model.toString(), "--data", data.toString(), "--out",
                cliOut.toString(), "--base-ratios", "1,2,3", "--top-k", "2", "--steps", "2", "--batch", "2",
                "--max-len", "16", "--seed", "5", "--lr", "1e-2");
        assertEquals(0, r.code(), r.err());
        TrainOptions options = new TrainOptions(model.toString(), data, apiOut, null, null, new double[]{1, 2, 3}, 2, 2,
                2, 1e-2, 0, 0, 16, 0.3, 5, "all", null, false, false, null);
        TrainOptions official = TrainOptions.official("m", data, apiOut);
        assertEquals(7, official.topK());
        assertEquals(List.of(2, 2, 16), List.of(official.withSteps(2, 2, 16).steps(), official.withSteps(2, 2, 16).batch(),
                official.withSteps(2, 2, 16).maxLen()));
        Trainer.Result result = Moice.trainRouters(options, quiet());
        assertEquals(2, result.history().size());
        Routers cli = RouterFile.read(cliOut), api = RouterFile.read(apiOut);
        assertArrayEquals(cli.bases(), api.bases());
        for (int l = 0; l < cli.gate1().length; l++) {
            assertArrayEquals(cli.gate1()[l], api.gate1()[l]);
            assertArrayEquals(cli.gate2()[l], api.gate2()[l]);
            assertArrayEquals(cli.gate3()[l], api.gate3()[l]);
        }
        // options are checked before the model is loaded
        TrainOptions bad = new TrainOptions(model.toString(), data, tmp.resolve("bad.safetensors"), null, null,
                new double[]{1, 2}, 2, 0, 2, 1e-2, 0, 0, 16, 0.3, 5, "all", null, false, false, null);
        assertTrue(assertThrows(moice.MoiceException.class, () -> Moice.trainRouters(bad, quiet())).getMessage()
                .contains("--steps"));
    }

    @Test
    void perplexityWritesWhatTheCommandWrites() throws IOException {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 40; i++) text.append("Sentence ").append(i).append(" tells of rivers, hills and the sea. ");
        Path data = Files.writeString(tmp.resolve("held-out.txt"), text.toString());
        Path cliOut = tmp.resolve("ppl-cli"), apiOut = tmp.resolve("ppl-api");
        moice.cli.CliTest.Run r = ApiTest.cli("perplexity", "--model", model.toString(), "--data", data.toString(), "--context",
                "64", "--buckets", "4", "--block", "32", "--methods", "vanilla,equal", "--out", cliOut.toString());
        assertEquals(0, r.code(), r.err());
        PerplexityOptions options = new PerplexityOptions(model.toString(), data, 64, null, 4, Integer.MAX_VALUE, 32,
                List.of("vanilla", "equal"), null, null, null, false, apiOut);
        List<moice.eval.Perplexity.Window> windows = Moice.perplexity(options, quiet());
        assertTrue(windows.size() >= 2 && windows.size() % 2 == 0, "windows: " + windows.size());
        assertEquals(Files.readString(cliOut.resolve("windows.csv")), Files.readString(apiOut.resolve("windows.csv")));
        assertEquals(Files.readString(cliOut.resolve("perplexity.csv")),
                Files.readString(apiOut.resolve("perplexity.csv")));
        assertEquals(PerplexityOptions.of("m", data, 64, List.of("vanilla"), apiOut).buckets(), 8);
    }
}
