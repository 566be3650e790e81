package moice.cli;

import moice.Bounds;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The method spec syntax on the command line: {@code --method equal|random[:SEED]|ab:B..|mspoe:MIN,MAX} in forward
 * and bench, the old flags as sugar for the same values, and {@code eval --methods} with the new methods.
 */
class MethodSpecCliTest {
    static final Path MODEL = Path.of("src/test/resources/moice/mspoe-llama-gqa/model");
    static final Path TOKENS = Path.of("src/test/resources/moice/mspoe-llama-gqa/tokens.json");
    /** Two float32 evaluations of this model differing by rounding only ({@link Bounds#forwardPass}). */
    static final double bound = Bounds.forwardPass(MODEL, TOKENS);

    @TempDir
    Path tmp;

    @Test
    void forwardRunsEveryMethodAndTheOldFlagsMeanTheSame() {
        float[] vanilla = forward("v", "--method", "vanilla");
        float[] equal = forward("e", "--method", "equal");
        // a spec and its spelled-out form, or an old flag and its spec, are the same computation: the same bits
        Bounds.assertSameBits(equal, forward("e2", "--method", "equal:1,1.75,1.8,1.9,2,2.25,2.5"), "equal spelled out");
        assertTrue(Bounds.relativeMaxError(vanilla, equal) > 10 * bound, "equal weights changed nothing");
        float[] random = forward("r", "--method", "random:5");
        Bounds.assertSameBits(random, forward("r2", "--method", "RANDOM:5"), "random:5");
        assertFalse(Arrays.equals(random, forward("r3", "--method", "random:6")), "the seed changed nothing");
        Bounds.assertSameBits(forward("a", "--method", "ab", "--ab-bases", "10000,20000"),
                forward("a2", "--method", "ab:10000,20000"), "--ab-bases vs ab:B..");
        Bounds.assertSameBits(forward("m", "--method", "mspoe", "--mspoe-min", "1.1", "--mspoe-max", "1.5",
                "--mspoe-group-ratios"), forward("m2", "--method", "mspoe:1.1,1.5,group"), "--mspoe-* vs mspoe:..");
        Bounds.assertSameBits(vanilla, forward("m3", "--method", "mspoe:1,1"), "ratio 1 is vanilla");
    }

    @Test
    void routingStatsOfEqualWeightsShowEveryExpertAtOneSeventh() throws IOException {
        Path csv = tmp.resolve("stats.csv");
        forward("s", "--method", "equal", "--routing-stats", csv.toString());
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        assertEquals(1 + 4 * 4 * 7, lines.size(), "4 layers × 4 heads × 7 experts");
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            assertEquals("1.000000", f[6], line); // every expert selected at every position
            assertEquals("0.142857", f[7], line); // with weight 1/7
        }
    }

    @Test
    void conflictsAndBadSpecsAreOneLineErrors() {
        fails("--ab-bases conflicts with --method ab:10000", "--method", "ab:10000", "--ab-bases", "20000");
        fails("conflicts with --method moice:", "--method", "moice:a.safetensors", "--moice", "b.safetensors");
        fails("the seed must be an integer", "--method", "random:x");
        fails("--mspoe-min/--mspoe-max conflict with --method mspoe:1,2", "--method", "mspoe:1,2", "--mspoe-min", "1");
        fails("one method expected here", "--method", "equal,random");
    }

    @Test
    void benchAndEvalTakeTheNewMethods() throws IOException {
        CliTest.Run r = CliTest.run("bench", "--model", MODEL.toString(), "--prefill", "20", "--decode", "2",
                "--repeats", "1", "--method", "vanilla,equal,random:3,ab:10000,20000");
        assertEquals(0, r.code(), r.err());
        for (String m : List.of("vanilla", "equal", "random:3", "ab:10000,20000"))
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith("| " + m + " ")), m + " in\n" + r.out());

        Path out = tmp.resolve("eval");
        Path chatModel = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
        r = CliTest.run("eval", "--model", chatModel.toString(), "--task", "passkey", "--lengths", "300",
                "--depths", "0.5", "--samples", "1", "--methods", "vanilla,equal,random:2,ab:10000,20000",
                "--max-new-tokens", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("vanilla", "equal", "random:2", "ab:10000,20000"),
                ResultsCsv.read(out.resolve("results.csv")).stream().map(ResultRow::method).toList());
    }

    private float[] forward(String name, String... extra) {
        Path out = tmp.resolve(name + ".safetensors");
        List<String> args = new ArrayList<>(List.of("forward", "--model", MODEL.toString(), "--tokens",
                TOKENS.toString(), "--out", out.toString()));
        args.addAll(Arrays.asList(extra));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        try (SafeTensors st = SafeTensors.open(out)) {
            long[] shape = st.shape("logits");
            return st.matrix("logits", (int) shape[0], (int) shape[1]).toFloats();
        }
    }

    private void fails(String fragment, String... extra) {
        List<String> args = new ArrayList<>(List.of("forward", "--model", MODEL.toString(), "--tokens",
                TOKENS.toString(), "--out", tmp.resolve("x.safetensors").toString()));
        args.addAll(Arrays.asList(extra));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line: " + err);
        assertTrue(err.startsWith("moice: ") && err.contains(fragment), err);
    }
}
