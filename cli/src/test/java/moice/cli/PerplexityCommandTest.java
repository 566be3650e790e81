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
