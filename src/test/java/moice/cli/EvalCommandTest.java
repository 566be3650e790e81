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
        return new String[]{"eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300,420",
                "--depths", "0,1", "--samples", String.valueOf(samples), "--methods", "vanilla,mspoe",
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

        CliTest.Run other = CliTest.run(passkeyArgs(out, 3));
        assertEquals(1, other.code());
        assertTrue(other.err().contains("different arguments") && other.err().contains("samples"), other.err());
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
                "--seed", "--max-new-tokens", "--out", "--plain", "--ab-bases", "--mspoe-min", "--mspoe-max"))
            assertTrue(r.out().contains(flag), flag);
    }
}
