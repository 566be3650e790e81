package moice.cli;

import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice demo} on a tiny random model with its own routers: the three methods on the same prompts, scored by
 * log-likelihood, and a summary with the paired comparisons. (The default model's run is what the README shows.)
 */
class DemoCommandTest {
    @TempDir
    Path tmp;

    @Test
    void comparesVanillaEqualAndMoiceOnTheSamePromptsByLogLikelihood() throws IOException {
        Path model = TinyChatModel.write(tmp.resolve("tiny"), 2, 1024);
        Path routers = tmp.resolve("r.safetensors");
        CliTest.Run init = CliTest.run("routers", "init", "--model", model.toString(), "--base-ratios",
                "1,1.75,1.8,1.9,2,2.25,2.5", "--top-k", "3", "--seed", "2", "--out", routers.toString());
        assertEquals(0, init.code(), init.err());
        Path out = tmp.resolve("demo");
        CliTest.Run r = CliTest.run("demo", "--model", model.toString(), "--moice", routers.toString(), "--lengths", "300",
                "--depths", "0,1", "--samples", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("--score loglik") && r.err().contains("--methods vanilla,equal,moice:"), r.err());

        List<ResultRow> rows = ResultsCsv.read(out.resolve("results.csv"));
        assertEquals(12, rows.size(), "3 methods x 2 depths x 2 samples");
        Map<String, List<ResultRow>> byMethod = rows.stream().collect(Collectors.groupingBy(ResultRow::method));
        assertEquals(3, byMethod.size(), byMethod.keySet().toString());
        for (ResultRow row : rows) assertEquals("loglik", row.scoring(), row.toString());
        // paired: each method saw the same prompts (same gold answers in the same cells) but scored them differently
        List<String> gold = byMethod.get("vanilla").stream().map(x -> x.depth() + "/" + x.sample() + "/" + x.gold()).sorted().toList();
        List<String> equalGold = byMethod.get("equal").stream().map(x -> x.depth() + "/" + x.sample() + "/" + x.gold()).sorted().toList();
        assertEquals(gold, equalGold);
        assertNotEquals(byMethod.get("vanilla").getFirst().loglik(), byMethod.get("equal").getFirst().loglik());

        String summary = Files.readString(out.resolve("summary.md"));
        assertTrue(r.out().contains(summary.strip().lines().findFirst().orElseThrow()), "the summary is printed");
        assertTrue(summary.contains("| equal |") && summary.contains("| vanilla |"), summary);
        assertTrue(summary.contains("## Paired difference: method − vanilla") && summary.contains("## Paired difference: method − equal")
                && summary.contains("Δ log-likelihood (nats)"), summary);
        assertTrue(Files.isRegularFile(out.resolve("loglik_by_depth.png")));
    }

    @Test
    void anotherModelNeedsItsOwnRouters() throws IOException {
        Path model = TinyChatModel.write(tmp.resolve("tiny"), 2, 1024);
        CliTest.Run r = CliTest.run("demo", "--model", model.toString(), "--out", tmp.resolve("d").toString());
        assertNotEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("give --moice ROUTERS"), r.err());
    }
}
