package moice.spark;

import moice.cli.CliTest;
import moice.cli.TinyChatModel;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice eval --spark local[2]} end to end, as a user runs it: this JVM has moice-spark but not Spark, so
 * the command starts a JVM with Spark's class path (spark/target/spark-classpath.txt), whose driver scores every
 * sample on two executor threads. Checked against the same command without {@code --spark}: the same rows (all
 * columns but time and memory, which are measurements), in the same order, and the same summary; resumption; and a
 * sample that cannot run, which must end the job with its name rather than be retried. The default suite runs the
 * short ones (about half a minute: each Spark run starts a JVM); .ci/run runs all (MOICE_SPARK_FULL=1).
 */
class SparkEvalTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
    }

    static String[] args(Path out, String score, String... spark) {
        List<String> a = new ArrayList<>(List.of("eval", "--model", model.toString(), "--task", "passkey", "--lengths",
                "300,420", "--depths", "0,1", "--samples", "2", "--methods", "vanilla,mspoe", "--max-new-tokens", "4",
                "--seed", "3", "--score", score, "--out", out.toString()));
        a.addAll(Arrays.asList(spark));
        return a.toArray(String[]::new);
    }

    /** A row without its measurements (seconds, peak heap, peak RSS). */
    static ResultRow measured(ResultRow r) {
        return new ResultRow(r.method(), r.task(), r.length(), r.depth(), r.position(), r.sample(), r.prediction(),
                r.gold(), r.correct(), r.promptTokens(), 0, 0, 0, r.scoring(), r.loglik(), r.loglikPerToken(),
                r.answerTokens());
    }

    static List<ResultRow> rows(Path out) {
        return ResultsCsv.read(out.resolve("results.csv")).stream().map(SparkEvalTest::measured).toList();
    }

    /** summary.md without the time and memory columns' numbers (they are measurements). */
    static String accuracyPart(Path out) throws IOException {
        String md = Files.readString(out.resolve("summary.md"));
        int cut = md.indexOf("peak heap");
        return cut < 0 ? md : md.substring(0, cut);
    }

    /** One method × length × depth × sample run locally and with --spark local[2]. */
    static void assertSameAsLocal(String score, List<String> lengths) throws IOException {
        Path local = tmp.resolve("local-" + score), spark = tmp.resolve("spark-" + score);
        String[] base = args(local, score);
        CliTest.Run l = CliTest.run(withLengths(args(local, score), lengths));
        assertEquals(0, l.code(), l.err());
        CliTest.Run s = CliTest.run(withLengths(args(spark, score, "--spark", "local[2]"), lengths));
        assertEquals(0, s.code(), s.err());
        int n = 8 * lengths.size();
        assertTrue(s.err().contains("eval: " + n + " samples on Spark local[2] (2 task slots)"), s.err());
        assertTrue(s.err().contains("eval: " + n + "/" + n), s.err());
        List<ResultRow> want = rows(local), got = rows(spark);
        assertEquals(n, want.size(), base[0]);
        assertEquals(want, got, score + ": the same rows in the same order");
        if (score.equals("loglik")) assertTrue(got.stream().allMatch(r -> r.loglik() < 0), got.toString());
        assertEquals(accuracyPart(local), accuracyPart(spark));
        for (String f : List.of("run.json", "accuracy_by_depth.png", "heatmap_vanilla.png", "heatmap_mspoe.png"))
            assertTrue(Files.exists(spark.resolve(f)), f);
        assertEquals(Files.readString(local.resolve("run.json")), Files.readString(spark.resolve("run.json")));
    }

    static String[] withLengths(String[] a, List<String> lengths) {
        String[] c = a.clone();
        for (int i = 0; i < c.length - 1; i++) if (c[i].equals("--lengths")) c[i + 1] = String.join(",", lengths);
        return c;
    }

    /** In the default suite: log-likelihood scoring (prediction, log-likelihood, correctness), 8 rows. */
    @Test
    void loglikRowsEqualALocalRun() throws IOException {
        assertSameAsLocal("loglik", List.of("300"));
    }

    /** Longer (run by .ci/run, MOICE_SPARK_FULL=1): greedy generation, 16 rows, then an interrupted run resumed. */
    @Test
    @EnabledIfEnvironmentVariable(named = "MOICE_SPARK_FULL", matches = "1")
    void generatedRowsEqualALocalRunAndASparkRunResumes() throws IOException {
        assertSameAsLocal("generate", List.of("300", "420"));

        // an interrupted Spark run: the last six rows lost, a seventh cut off mid-line; the rerun runs only those
        Path spark = tmp.resolve("spark-generate");
        Path csv = spark.resolve("results.csv");
        String[] records = Files.readString(csv).split("\r\n");
        String kept = String.join("\r\n", Arrays.copyOf(records, records.length - 7)) + "\r\n";
        Files.writeString(csv, kept + records[records.length - 7].substring(0, 12));
        CliTest.Run again = CliTest.run(args(spark, "generate", "--spark", "local[2]"));
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("resuming, 9 of 16"), again.err());
        assertTrue(again.err().contains("eval: 7 samples on Spark"), again.err());
        assertEquals(rows(tmp.resolve("local-generate")), rows(spark), "complete, in order, nothing twice");

        CliTest.Run done = CliTest.run(args(spark, "generate", "--spark", "local[2]"));
        assertEquals(0, done.code(), done.err());
        assertTrue(done.err().contains("resuming, 16 of 16"), done.err());
        assertFalse(done.err().contains("samples on Spark"), "nothing left: Spark is not even started");
    }

    @Test
    void aSampleThatCannotRunEndsTheJobWithItsName() throws IOException {
        // three mdqa questions; the second one's documents are far longer than --lengths, which mdqa never cuts
        String doc = "The harbour was busy with boats and nets and gulls. ".repeat(60);
        StringBuilder data = new StringBuilder();
        for (int i = 0; i < 3; i++)
            data.append("{\"question\": \"what colour is lamp ").append(i).append("\", \"answers\": [\"green\"], "
                    + "\"ctxs\": [{\"title\": \"Lamps\", \"text\": \"").append(i == 1 ? doc : "Lamps were lit.")
                    .append("\", \"hasanswer\": false, \"isgold\": false}, {\"title\": \"Lamp ").append(i)
                    .append("\", \"text\": \"Lamp ").append(i).append(" shines green.\", \"hasanswer\": true, "
                            + "\"isgold\": true}]}\n");
        Path file = Files.writeString(tmp.resolve("mdqa-one-too-long.jsonl"), data.toString());
        Path out = tmp.resolve("too-long");
        long t0 = System.nanoTime();
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--task", "mdqa", "--data", file.toString(),
                "--methods", "vanilla", "--max-new-tokens", "3", "--lengths", "300", "--samples", "3", "--out",
                out.toString(), "--spark", "local[2]");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1, r.code(), r.err());
        List<String> errors = r.err().lines().filter(x -> x.startsWith("moice: ")).toList();
        assertEquals(1, errors.size(), r.err());
        String error = errors.getFirst();
        assertTrue(error.contains("sample 1 (method vanilla, length 300)") && error.contains(file + ":2")
                && error.contains("more than --lengths 300"), error);
        // the other samples' rows are kept for a rerun with fixed data
        List<ResultRow> kept = ResultsCsv.read(out.resolve("results.csv"));
        assertTrue(kept.stream().noneMatch(x -> x.sample() == 1), kept.toString());
        assertTrue(seconds < 120, "failed at once, not after retries: " + seconds + " s");
    }

    @Test
    void badSparkSettingsAreOneLine() {
        CliTest.Run r = CliTest.run(args(tmp.resolve("bad-conf"), "loglik", "--spark", "local[2]", "--spark-conf",
                "spark.executor.memory"));
        assertEquals(1, r.code());
        assertEquals("moice: --spark-conf spark.executor.memory: expected KEY=VALUE", r.err().strip());
    }
}
