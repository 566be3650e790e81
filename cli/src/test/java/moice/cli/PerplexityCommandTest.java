package moice.cli;

import moice.eval.Perplexity;
import moice.load.LoadedModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bin/moice perplexity} on the tiny model, checked against NLL computed here from one forward per window. */
class PerplexityCommandTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
    }

    static String text() {
        StringBuilder sb = new StringBuilder();
        String[] words = {"the", "river", "ran", "past", "a", "quiet", "mill", "where", "bakers", "sang", "of", "bread"};
        java.util.Random r = new java.util.Random(11);
        for (int i = 0; i < 400; i++) sb.append(words[r.nextInt(words.length)]).append(i % 9 == 8 ? ".\n" : " ");
        return sb.toString();
    }

    @Test
    void nllByPositionMatchesForwardLogits() throws IOException {
        Path data = tmp.resolve("held-out.txt");
        Files.writeString(data, text());
        Path out = tmp.resolve("ppl");
        int context = 64, buckets = 4;
        CliTest.Run r = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(), "--context",
                String.valueOf(context), "--buckets", String.valueOf(buckets), "--max-windows", "3", "--block", "24",
                "--methods", "vanilla,mspoe", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out.resolve("windows.csv"));
        assertEquals("method,window,start,mean_nll,nll_bucket_0,nll_bucket_1,nll_bucket_2,nll_bucket_3", lines.getFirst());
        assertEquals(1 + 2 * 3, lines.size(), "3 windows × 2 methods");
        try (LoadedModel m = LoadedModel.open(model)) {
            int[] stream = m.tokenizer().encode(text());
            int vocab = m.config().vocabSize();
            double meanOfWindows = 0;
            for (String line : lines.subList(1, lines.size())) {
                String[] c = line.split(",");
                if (!c[0].equals("vanilla")) continue;
                int start = Integer.parseInt(c[2]);
                assertEquals(Integer.parseInt(c[1]) * context, start, "disjoint windows by default");
                int[] window = java.util.Arrays.copyOfRange(stream, start, start + context);
                float[] logits = m.model().forward(window, m.model().newCache(context), m.model().vanilla(), context);
                // the command feeds --block 24 tokens at a time: another float32 evaluation, each NLL within the
                // log-probability bound; windows.csv prints 6 decimals
                double tol = moice.Bounds.logProb(moice.Bounds.forwardPass(m.config(), context), moice.Bounds.maxAbs(logits))
                        + 5e-7;
                double[] sum = new double[buckets];
                int[] count = new int[buckets];
                double all = 0;
                for (int t = 1; t < context; t++) {
                    double nll = -EvalCommandTest.logProb(logits, t - 1, vocab, window[t]);
                    int b = t * buckets / context; // tokens 1..15, 16..31, 32..47, 48..63
                    sum[b] += nll;
                    count[b]++;
                    all += nll;
                }
                assertEquals(all / (context - 1), Double.parseDouble(c[3]), tol, line);
                for (int b = 0; b < buckets; b++)
                    assertEquals(sum[b] / count[b], Double.parseDouble(c[4 + b]), tol, line + " bucket " + b);
                meanOfWindows += Double.parseDouble(c[3]) / 3;
            }
            String csv = Files.readString(out.resolve("perplexity.csv"));
            String allRow = csv.lines().filter(l -> l.startsWith("vanilla,all,1,63,3,")).findFirst().orElseThrow();
            assertEquals(meanOfWindows, Double.parseDouble(allRow.split(",")[5]), 3 * 5e-7 + 5e-7); // printed to 6 places
            double ppl = Math.exp(Double.parseDouble(allRow.split(",")[5]));
            assertEquals(ppl, Double.parseDouble(allRow.split(",")[8]), 1e-5 * ppl, "perplexity = exp(mean NLL)");
        }
        String md = Files.readString(out.resolve("perplexity.md"));
        assertTrue(md.contains("| vanilla | 3 |") && md.contains("NLL difference: method − vanilla")
                && md.contains("| mspoe |") && md.contains("1–15 |"), md);
        assertNotNull(ImageIO.read(out.resolve("nll_by_position.png").toFile()));
    }

    /**
     * {@code --llama-compat} against llama-perplexity's rule computed here by hand (tools/perplexity/perplexity.cpp):
     * chunk i is stream[i·C, (i+1)·C) with its first token replaced by BOS, and only the logits at positions C/2..C−2
     * (predicting tokens C/2+1..C−1) count; PPL = exp(mean NLL over all counted tokens). The tokenizer here adds BOS
     * (a TemplateProcessing post-processor), so the stream itself starts with BOS as llama.cpp's does.
     */
    @Test
    void llamaCompatScoresTheSecondHalfOfEachChunkAfterBos() throws IOException {
        Path bosModel = tmp.resolve("tiny-bos");
        TinyChatModel.write(bosModel, 3, 1024);
        String json = Files.readString(bosModel.resolve("tokenizer.json"));
        String byteLevel = "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true}";
        assertTrue(json.contains("\"post_processor\":" + byteLevel), "fixture's post-processor changed");
        String bos = "<|im_start|>"; // id 1, a special added token of the fixture
        Files.writeString(bosModel.resolve("tokenizer.json"), json.replace("\"post_processor\":" + byteLevel,
                "\"post_processor\":{\"type\":\"Sequence\",\"processors\":[" + byteLevel + ",{\"type\":\"TemplateProcessing\","
                        + "\"single\":[{\"SpecialToken\":{\"id\":\"" + bos + "\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\","
                        + "\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\","
                        + "\"type_id\":1}}],\"special_tokens\":{\"" + bos + "\":{\"id\":\"" + bos + "\",\"ids\":[1],"
                        + "\"tokens\":[\"" + bos + "\"]}}}]}"));
        Path data = tmp.resolve("held-out-bos.txt");
        Files.writeString(data, text());
        Path out = tmp.resolve("ppl-llama");
        int context = 64, first = context / 2; // llama-perplexity: first = n_ctx/2
        CliTest.Run r = CliTest.run("perplexity", "--model", bosModel.toString(), "--data", data.toString(),
                "--context", String.valueOf(context), "--buckets", "4", "--max-windows", "3", "--block", "24",
                "--llama-compat", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out.resolve("windows.csv"));
        assertEquals(1 + 3, lines.size());
        double total = 0, bound = 0;
        int counted = 0;
        try (LoadedModel m = LoadedModel.open(bosModel)) {
            int[] stream = m.tokenizer().encode(text());
            assertEquals(1, stream[0], "the tokenizer puts BOS first, as llama.cpp's common_tokenize(.., true) does");
            int vocab = m.config().vocabSize();
            for (int i = 0; i < 3; i++) {
                int[] chunk = java.util.Arrays.copyOfRange(stream, i * context, (i + 1) * context);
                chunk[0] = 1; // BOS for the first batch of each chunk
                float[] logits = m.model().forward(chunk, m.model().newCache(context), m.model().vanilla(), context);
                double tol = moice.Bounds.logProb(moice.Bounds.forwardPass(m.config(), context),
                        moice.Bounds.maxAbs(logits)) + 5e-7;
                bound = Math.max(bound, tol);
                double sum = 0;
                for (int pos = first; pos <= context - 2; pos++) sum -= EvalCommandTest.logProb(logits, pos, vocab, chunk[pos + 1]);
                int n = context - first - 1;
                String[] c = lines.get(1 + i).split(",");
                assertEquals(i * context, Integer.parseInt(c[2]));
                assertEquals(sum / n, Double.parseDouble(c[3]), tol, lines.get(1 + i));
                total += sum;
                counted += n;
            }
        }
        double ppl = Math.exp(total / counted);
        java.util.regex.Matcher pplLine = java.util.regex.Pattern.compile("vanilla: PPL = ([0-9.]+) over 3 windows")
                .matcher(r.err());
        assertTrue(pplLine.find(), r.err());
        // exp of a mean whose terms are each within `bound`, printed to 4 decimals
        assertEquals(ppl, Double.parseDouble(pplLine.group(1)), ppl * Math.expm1(bound) + 5e-5);
        assertTrue(Files.readString(out.resolve("perplexity.csv")).contains("\r\nvanilla,all,33,63,3,"),
                "bucket 'all' names the counted tokens");
        assertTrue(Files.readString(out.resolve("perplexity.md")).contains("replaced by BOS (id 1)"));
    }

    /** {@code --score-from T} counts tokens T..C−1 only; without a BOS-adding tokenizer --llama-compat keeps token 0. */
    @Test
    void scoreFromCountsTheTailAndCompatKeepsTheFirstTokenWithoutBos() throws IOException {
        Path data = tmp.resolve("held-out-tail.txt");
        Files.writeString(data, text());
        int context = 64, from = 10;
        Path out = tmp.resolve("ppl-tail");
        CliTest.Run r = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(), "--context",
                String.valueOf(context), "--buckets", "4", "--max-windows", "2", "--score-from", String.valueOf(from),
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out.resolve("windows.csv"));
        Path compatOut = tmp.resolve("ppl-compat-nobos");
        CliTest.Run compat = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(),
                "--context", String.valueOf(context), "--buckets", "4", "--max-windows", "2", "--llama-compat",
                "--out", compatOut.toString());
        assertEquals(0, compat.code(), compat.err());
        List<String> compatLines = Files.readAllLines(compatOut.resolve("windows.csv"));
        try (LoadedModel m = LoadedModel.open(model)) {
            int[] stream = m.tokenizer().encode(text());
            assertTrue(m.tokenizer().bosToken().isEmpty(), "the fixture's tokenizer adds no BOS");
            int vocab = m.config().vocabSize();
            for (int w = 0; w < 2; w++) {
                int[] window = java.util.Arrays.copyOfRange(stream, w * context, (w + 1) * context);
                float[] logits = m.model().forward(window, m.model().newCache(context), m.model().vanilla(), context);
                double tol = moice.Bounds.logProb(moice.Bounds.forwardPass(m.config(), context),
                        moice.Bounds.maxAbs(logits)) + 5e-7;
                double tail = 0, half = 0;
                for (int t = from; t < context; t++) tail -= EvalCommandTest.logProb(logits, t - 1, vocab, window[t]);
                for (int t = context / 2 + 1; t < context; t++)
                    half -= EvalCommandTest.logProb(logits, t - 1, vocab, window[t]);
                assertEquals(tail / (context - from), Double.parseDouble(lines.get(1 + w).split(",")[3]), tol);
                assertEquals(half / (context / 2 - 1), Double.parseDouble(compatLines.get(1 + w).split(",")[3]), tol);
            }
        }
        assertTrue(Files.readString(compatOut.resolve("perplexity.md")).contains("first token kept"));
    }

    @Test
    void llamaCompatRefusesOverlapAndAnExplicitScoreFrom() throws IOException {
        Path data = tmp.resolve("held-out-bad.txt");
        Files.writeString(data, text());
        CliTest.Run stride = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(),
                "--context", "64", "--stride", "32", "--llama-compat", "--out", tmp.resolve("bad1").toString());
        assertEquals(1, stride.code());
        assertTrue(stride.err().contains("--llama-compat") && stride.err().contains("--stride"), stride.err());
        assertEquals(1, stride.err().strip().lines().count(), stride.err());
        CliTest.Run range = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(),
                "--context", "64", "--score-from", "64", "--out", tmp.resolve("bad2").toString());
        assertEquals(1, range.code());
        assertTrue(range.err().contains("--score-from must be in [1, 63]"), range.err());
        CliTest.Run both = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(),
                "--context", "64", "--score-from", "5", "--llama-compat", "--out", tmp.resolve("bad3").toString());
        assertEquals(1, both.code());
        assertTrue(both.err().contains("--llama-compat sets --score-from"), both.err());
    }

    @Test
    void bucketsSplitTheWindowEvenly() {
        assertEquals(List.of(1, 15), List.of(Perplexity.bucketRange(0, 64, 4)[0], Perplexity.bucketRange(0, 64, 4)[1]));
        int[] last = Perplexity.bucketRange(3, 64, 4);
        assertEquals(48, last[0]);
        assertEquals(63, last[1]);
        assertEquals(List.of(0, 64, 128), Perplexity.windowStarts(200, 64, 64, 10));
        assertEquals(List.of(0, 32), Perplexity.windowStarts(200, 64, 32, 2));
    }

    @Test
    void tooLittleDataIsOneLine() throws IOException {
        Path data = tmp.resolve("short.txt");
        Files.writeString(data, "just a few words");
        CliTest.Run r = CliTest.run("perplexity", "--model", model.toString(), "--data", data.toString(), "--context",
                "64", "--out", tmp.resolve("short").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("fewer than one window"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
