package moice.cli;

import moice.eval.Plots;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice eval} end to end on a tiny random model with a real tokenizer and chat template: its answers are
 * noise, so this checks the files, the row counts, resumption and the errors, not accuracy.
 */
class EvalCommandTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
    }

    static String[] passkeyArgs(Path out) {
        return passkeyArgs(out, 2);
    }

    static String[] passkeyArgs(Path out, int samples) {
        return passkeyArgs(out, samples, "vanilla,mspoe");
    }

    static String[] passkeyArgs(Path out, int samples, String methods) {
        return new String[]{"eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300,420",
                "--depths", "0,1", "--samples", String.valueOf(samples), "--methods", methods,
                "--max-new-tokens", "4", "--seed", "3", "--out", out.toString()};
    }

    @Test
    void writesResultsSummaryAndPlotsAndResumes() throws IOException {
        Path out = tmp.resolve("run");
        CliTest.Run r = CliTest.run(passkeyArgs(out));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("eval: 16/16"), r.err());
        Path csv = out.resolve("results.csv");
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        assertEquals(String.join(",", ResultRow.COLUMNS), lines.get(0));
        List<ResultRow> rows = ResultsCsv.read(csv);
        assertEquals(16, rows.size(), "2 methods × 2 lengths × 2 depths × 2 samples");
        for (ResultRow row : rows) {
            assertTrue(row.promptTokens() <= row.length() && row.promptTokens() > row.length() - 60, row.toString());
            assertTrue(row.gold().matches("\\d{5}"), row.gold());
            assertTrue(row.seconds() > 0 && row.peakHeapMiB() > 0);
            assertTrue(row.correct() == 0 || row.correct() == 1);
        }
        assertEquals(8, rows.stream().filter(x -> x.method().equals("mspoe")).count());
        String summary = Files.readString(out.resolve("summary.md"));
        assertTrue(summary.contains("Gap") && summary.contains("| vanilla |") && summary.contains("| mspoe |")
                && summary.contains("peak heap MiB"), summary);
        BufferedImage line = ImageIO.read(out.resolve("accuracy_by_depth.png").toFile());
        assertNotNull(line);
        assertEquals(Plots.LINE_WIDTH, line.getWidth());
        assertEquals(Plots.LINE_HEIGHT, line.getHeight());
        for (String m : List.of("vanilla", "mspoe")) {
            BufferedImage heat = ImageIO.read(out.resolve("heatmap_" + m + ".png").toFile());
            assertEquals(Plots.HEAT_WIDTH, heat.getWidth());
            assertEquals(Plots.HEAT_HEIGHT, heat.getHeight());
        }

        // an interrupted run: the last three rows lost, the one before cut off mid-line
        String text = Files.readString(csv);
        String[] records = text.split("\r\n");
        String kept = String.join("\r\n", java.util.Arrays.copyOf(records, records.length - 3)) + "\r\n";
        Files.writeString(csv, kept + records[records.length - 3].substring(0, 10));
        CliTest.Run again = CliTest.run(passkeyArgs(out));
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("resuming, 13 of 16"), again.err());
        assertTrue(again.err().contains("eval: 16/16"), again.err());
        List<ResultRow> resumed = ResultsCsv.read(csv);
        assertEquals(16, resumed.size());
        assertEquals(rows.subList(0, 13).stream().map(ResultRow::key).toList(),
                resumed.subList(0, 13).stream().map(ResultRow::key).toList());
        assertEquals(rows.stream().map(ResultRow::key).sorted().toList(),
                resumed.stream().map(ResultRow::key).sorted().toList(), "the same cells, none twice");
        for (int i = 13; i < 16; i++) {
            ResultRow a = rows.get(i), b = resumed.get(i);
            assertEquals(a.prediction(), b.prediction(), "greedy and seeded: the rerun gives the same answer");
            assertEquals(a.promptTokens(), b.promptTokens());
        }

        CliTest.Run finished = CliTest.run(passkeyArgs(out));
        assertEquals(0, finished.code(), finished.err());
        assertTrue(finished.err().contains("resuming, 16 of 16"), finished.err());
        assertEquals(16, ResultsCsv.read(csv).size());

        CliTest.Run fewer = CliTest.run(passkeyArgs(out, 1));
        assertEquals(1, fewer.code());
        assertTrue(fewer.err().contains("different arguments") && fewer.err().contains("samples"), fewer.err());
        CliTest.Run other = CliTest.run(passkeyArgs(out, 2, "vanilla"));
        assertEquals(1, other.code());
        assertTrue(other.err().contains("different arguments") && other.err().contains("methods"), other.err());

        // more samples extend the run: the 16 rows stay as they were, 8 new ones (sample index 2) are added
        CliTest.Run more = CliTest.run(passkeyArgs(out, 3));
        assertEquals(0, more.code(), more.err());
        assertTrue(more.err().contains("resuming, 16 of 24"), more.err());
        List<ResultRow> extended = ResultsCsv.read(csv);
        assertEquals(24, extended.size());
        assertEquals(resumed.subList(0, 16).stream().map(ResultRow::toString).toList(),
                extended.subList(0, 16).stream().map(ResultRow::toString).toList());
        assertEquals(8, extended.stream().filter(x -> x.sample() == 2).count());
        assertTrue(Files.readString(out.resolve("run.json")).contains("\"samples\":3"));
        assertTrue(CliTest.run(passkeyArgs(out, 3)).err().contains("resuming, 24 of 24"));
    }

    /** log softmax(row)[token] computed here, independently of the code under test. */
    static double logProb(float[] logits, int row, int vocab, int token) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int v = 0; v < vocab; v++) max = Math.max(max, logits[row * vocab + v]);
        for (int v = 0; v < vocab; v++) sum += Math.exp(logits[row * vocab + v] - max);
        return logits[row * vocab + token] - max - Math.log(sum);
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /**
     * Sum of log-probabilities of {@code answer} after {@code prompt} from one vanilla forward over both, greedy
     * agreement (1/0), and the bound on the sum's difference from any other float32 evaluation (eval feeds the prompt
     * and the answer as two blocks): per answer token {@link moice.Bounds#logProb} of the forward-pass bound.
     */
    static double[] vanillaLoglik(moice.model.Model model, int[] prompt, int[] answer) {
        int[] all = concat(prompt, answer);
        int vocab = model.config().vocabSize();
        float[] logits = model.forward(all, model.newCache(all.length), model.vanilla(), all.length);
        double sum = 0, bound = answer.length * moice.Bounds.logProb(
                moice.Bounds.forwardPass(model.config(), all.length), moice.Bounds.maxAbs(logits));
        boolean greedy = true;
        for (int j = 0; j < answer.length; j++) {
            int row = prompt.length - 1 + j;
            sum += logProb(logits, row, vocab, answer[j]);
            int best = 0;
            for (int v = 1; v < vocab; v++) if (logits[row * vocab + v] > logits[row * vocab + best]) best = v;
            greedy &= best == answer[j];
        }
        return new double[]{sum, greedy ? 1 : 0, bound};
    }

    @Test
    void loglikScoringIsTheSumOfForwardLogSoftmax() throws IOException {
        Path out = tmp.resolve("loglik");
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300",
                "--depths", "0,1", "--samples", "2", "--methods", "vanilla,mspoe", "--seed", "5", "--plain",
                "--score", "loglik", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<ResultRow> rows = ResultsCsv.read(out.resolve("results.csv"));
        assertEquals(8, rows.size());
        try (moice.load.LoadedModel m = moice.load.LoadedModel.open(model)) {
            moice.eval.PromptEncoder.Plain encoder = new moice.eval.PromptEncoder.Plain(m.tokenizer());
            moice.eval.SyntheticTask passkey = moice.eval.SyntheticTask.named("passkey");
            for (ResultRow row : rows) {
                assertEquals("loglik", row.scoring());
                moice.eval.Sample sample = passkey.sample(300, row.depth(), row.sample(), 5, encoder);
                int[] prompt = sample.encode(encoder);
                // a plain prompt ends with the question: the answer follows after a space
                int[] answer = m.tokenizer().encode(" " + sample.answers().getFirst(), false);
                assertEquals(prompt.length, row.promptTokens());
                assertEquals(answer.length, row.answerTokens());
                // results.csv prints both to 6 decimals
                assertEquals(row.loglik() / row.answerTokens(), row.loglikPerToken(), 5e-7 + 5e-7 / row.answerTokens());
                assertTrue(row.loglik() < 0, row.toString());
                if (row.method().equals("vanilla")) {
                    double[] expected = vanillaLoglik(m.model(), prompt, answer);
                    assertEquals(expected[0], row.loglik(), expected[2] + 5e-7, row.toString()); // + 6-decimal print
                    assertEquals(expected[1], row.correct(), "correct = greedy agreement");
                }
            }
            // the same prompts for both methods (paired), different attention
            for (int i = 0; i < 4; i++) {
                ResultRow v = rows.stream().filter(x -> x.method().equals("vanilla")).toList().get(i);
                ResultRow ms = rows.stream().filter(x -> x.pairKey().equals(v.pairKey()) && x.method().equals("mspoe"))
                        .findFirst().orElseThrow();
                assertEquals(v.promptTokens(), ms.promptTokens());
                assertEquals(v.gold(), ms.gold());
                assertTrue(Math.abs(v.loglik() - ms.loglik()) > 1e-6, "Ms-PoE attends differently");
            }
        }
        String summary = Files.readString(out.resolve("summary.md"));
        assertTrue(summary.contains("Paired difference: method − vanilla") && summary.contains("log-likelihood (nats)")
                && summary.contains("(sign-flip)"), summary);
        BufferedImage plot = ImageIO.read(out.resolve("loglik_by_depth.png").toFile());
        assertEquals(Plots.LINE_WIDTH, plot.getWidth());
        // rerun resumes (run.json records the scoring); a generate rerun into the same folder is refused
        CliTest.Run again = CliTest.run("eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300",
                "--depths", "0,1", "--samples", "2", "--methods", "vanilla,mspoe", "--seed", "5", "--plain",
                "--score", "loglik", "--out", out.toString());
        assertTrue(again.err().contains("resuming, 8 of 8"), again.err());
        CliTest.Run generate = CliTest.run("eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300",
                "--depths", "0,1", "--samples", "2", "--methods", "vanilla,mspoe", "--seed", "5", "--plain",
                "--out", out.toString());
        assertEquals(1, generate.code());
        assertTrue(generate.err().contains("different arguments") && generate.err().contains("score"), generate.err());
    }

    @Test
    void methodsRunSeparatelySeeTheSamePromptsAndPairWhenMerged() throws IOException {
        List<Path> dirs = new java.util.ArrayList<>();
        for (String method : List.of("vanilla", "mspoe")) {
            Path dir = tmp.resolve("paired-" + method);
            CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--task", "kv", "--lengths", "400",
                    "--depths", "0,1", "--samples", "2", "--methods", method, "--seed", "9", "--score", "loglik",
                    "--out", dir.toString());
            assertEquals(0, r.code(), r.err());
            dirs.add(dir);
        }
        List<ResultRow> a = ResultsCsv.read(dirs.get(0).resolve("results.csv"));
        List<ResultRow> b = ResultsCsv.read(dirs.get(1).resolve("results.csv"));
        assertEquals(4, a.size());
        for (int i = 0; i < 4; i++) {
            assertEquals(a.get(i).pairKey(), b.get(i).pairKey());
            assertEquals(a.get(i).gold(), b.get(i).gold(), "the sample seed does not depend on the method");
            assertEquals(a.get(i).promptTokens(), b.get(i).promptTokens());
            assertEquals(a.get(i).answerTokens(), b.get(i).answerTokens());
        }
        Path merged = tmp.resolve("paired-merged");
        CliTest.Run m = CliTest.run("eval", "--merge", dirs.get(0) + "," + dirs.get(1), "--out", merged.toString());
        assertEquals(0, m.code(), m.err());
        String summary = Files.readString(merged.resolve("summary.md"));
        assertTrue(summary.lines().anyMatch(l -> l.startsWith("| mspoe | 4 |") && l.contains("(McNemar)")
                && l.contains("(sign-flip)")), summary);
        assertTrue(Files.exists(merged.resolve("loglik_by_depth.png")));

        // a generate run does not merge with loglik runs
        Path generated = tmp.resolve("paired-generate");
        assertEquals(0, CliTest.run("eval", "--model", model.toString(), "--task", "kv", "--lengths", "400",
                "--depths", "0", "--samples", "1", "--methods", "ab", "--max-new-tokens", "2", "--seed", "9",
                "--out", generated.toString()).code());
        CliTest.Run mixed = CliTest.run("eval", "--merge", dirs.get(0) + "," + generated, "--out",
                tmp.resolve("mixed").toString());
        assertEquals(1, mixed.code());
        assertTrue(mixed.err().contains("scored by generate, the others by loglik"), mixed.err());
    }

    @Test
    void loglikPicksTheMostLikelyLEvalOption() throws IOException {
        Path out = tmp.resolve("leval-loglik");
        Path data = Path.of("src/test/resources/eval/leval-quality.jsonl");
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--task", "leval-quality", "--data",
                data.toString(), "--lengths", "600", "--methods", "vanilla", "--plain", "--score", "loglik",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<ResultRow> rows = ResultsCsv.read(out.resolve("results.csv"));
        assertEquals(2, rows.size());
        try (moice.load.LoadedModel m = moice.load.LoadedModel.open(model)) {
            moice.eval.PromptEncoder.Plain encoder = new moice.eval.PromptEncoder.Plain(m.tokenizer());
            moice.eval.DataTask task = moice.eval.DataTask.open("leval-quality", data);
            List<String> golds = List.of("A", "B"); // outputs "A" and "(B) a sailor"
            for (ResultRow row : rows) {
                moice.eval.Sample sample = task.sample(row.sample(), 600, encoder);
                int[] prompt = sample.encode(encoder);
                double best = Double.NEGATIVE_INFINITY, gold = Double.NaN, bound = 0;
                String chosen = null;
                for (String option : List.of("A", "B", "C", "D")) {
                    // after "\nAnswer:" the option follows a space
                    double[] scored = vanillaLoglik(m.model(), prompt, m.tokenizer().encode(" " + option, false));
                    double ll = scored[0];
                    bound = Math.max(bound, scored[2]);
                    if (ll > best) {
                        best = ll;
                        chosen = option;
                    }
                    if (option.equals(golds.get(row.sample()))) gold = ll;
                }
                assertEquals(chosen, row.prediction());
                assertEquals(gold, row.loglik(), bound + 5e-7); // + 6-decimal print
                assertEquals(chosen.equals(golds.get(row.sample())) ? 1.0 : 0.0, row.correct());
            }
        }
    }

    @Test
    void oldResultsWithoutLoglikColumnsAreReadAndUpgradedOnResume() throws IOException {
        Path out = tmp.resolve("old");
        String[] args = {"eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300",
                "--depths", "0.5", "--samples", "3", "--methods", "vanilla", "--max-new-tokens", "2", "--out",
                out.toString()};
        assertEquals(0, CliTest.run(args).code());
        Path csv = out.resolve("results.csv");
        // rewrite as the 13-column file of earlier versions, the last row lost
        List<String> lines = Files.readAllLines(csv);
        StringBuilder old = new StringBuilder();
        for (int i = 0; i < lines.size() - 1; i++) {
            String[] cells = lines.get(i).split(",", -1);
            old.append(String.join(",", java.util.Arrays.copyOf(cells, 13))).append("\r\n");
        }
        Files.writeString(csv, old.toString());
        List<ResultRow> read = ResultsCsv.read(csv);
        assertEquals(2, read.size());
        assertEquals("generate", read.getFirst().scoring());
        assertTrue(Double.isNaN(read.getFirst().loglik()));
        CliTest.Run again = CliTest.run(args);
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("resuming, 2 of 3"), again.err());
        assertEquals(String.join(",", ResultRow.COLUMNS), Files.readAllLines(csv).getFirst());
        assertEquals(3, ResultsCsv.read(csv).size());

        // a header that is neither is refused with the file named
        Path bad = tmp.resolve("bad-header");
        Files.createDirectories(bad);
        Files.writeString(bad.resolve("results.csv"), "method,task,score\r\nvanilla,passkey,1\r\n");
        CliTest.Run merge = CliTest.run("eval", "--merge", bad.toString(), "--out", tmp.resolve("m").toString());
        assertEquals(1, merge.code());
        assertTrue(merge.err().contains("results.csv: header is not"), merge.err());
    }

    @Test
    void dataTaskRunsFromAFile() throws IOException {
        Path out = tmp.resolve("mdqa");
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--task", "mdqa", "--data",
                "src/test/resources/eval/mdqa-sample.jsonl.gz", "--methods", "vanilla", "--max-new-tokens", "3",
                "--lengths", "500", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<ResultRow> rows = ResultsCsv.read(out.resolve("results.csv"));
        assertEquals(2, rows.size());
        assertEquals(List.of(2, 3), rows.stream().map(ResultRow::position).toList());
        assertEquals("Mira Olsen | M. Olsen", rows.get(0).gold());
        assertTrue(Files.exists(out.resolve("summary.md")));
    }

    @Test
    void moiceWithARoutersFileIsAMethod() throws IOException {
        Path routers = tmp.resolve("r.safetensors");
        CliTest.Run init = CliTest.run("routers", "init", "--model", model.toString(), "--base-ratios", "1,1.5,2",
                "--top-k", "2", "--out", routers.toString());
        assertEquals(0, init.code(), init.err());
        Path out = tmp.resolve("moice");
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--task", "kv", "--lengths", "400",
                "--depths", "0.5", "--samples", "1", "--methods", "vanilla,moice:" + routers, "--max-new-tokens", "2",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<ResultRow> rows = ResultsCsv.read(out.resolve("results.csv"));
        assertEquals(List.of("vanilla", "moice:" + routers), rows.stream().map(ResultRow::method).toList());
        assertTrue(Files.exists(out.resolve("heatmap_moice_r.safetensors.png")));
    }

    @Test
    void badInputIsOneLine() {
        Path out = tmp.resolve("bad");
        List<String[]> cases = List.of(
                new String[]{"--task", "poetry", "--lengths", "100"},
                new String[]{"--task", "mdqa", "--data", "src/test/resources/eval/nope.jsonl.gz"},
                new String[]{"--task", "mdqa", "--data", "src/test/resources/eval/malformed.jsonl"},
                new String[]{"--task", "passkey", "--lengths", "4000"},
                new String[]{"--task", "passkey", "--lengths", "200", "--methods", "vanilla,bogus"},
                new String[]{"--task", "passkey", "--lengths", "200", "--methods", "moice"},
                new String[]{"--task", "passkey", "--lengths", "200", "--depths", "1.5"});
        List<String> expected = List.of("unknown task 'poetry'", "no such data file", "malformed.jsonl:2",
                "exceeds the model's context of 1024", "unknown method 'bogus'", "moice:ROUTERS.safetensors", "[0, 1]");
        for (int i = 0; i < cases.size(); i++) {
            List<String> args = new java.util.ArrayList<>(List.of("eval", "--model", model.toString(), "--out",
                    out.toString()));
            args.addAll(List.of(cases.get(i)));
            CliTest.Run r = CliTest.run(args.toArray(String[]::new));
            assertEquals(1, r.code(), String.join(" ", args));
            assertTrue(r.err().contains(expected.get(i)), expected.get(i) + " in: " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertFalse(r.err().contains("Exception"), r.err());
        }
    }

    @Test
    void helpDocumentsEveryFlag() {
        CliTest.Run r = CliTest.run("eval", "--help");
        assertEquals(0, r.code());
        for (String flag : List.of("--model", "--task", "--data", "--lengths", "--depths", "--samples", "--methods",
                "--seed", "--max-new-tokens", "--score", "--out", "--plain", "--ab-bases", "--mspoe-min", "--mspoe-max",
                "--spark", "--spark-conf"))
            assertTrue(r.out().contains(flag), flag);
    }
}
