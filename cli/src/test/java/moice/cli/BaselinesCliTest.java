package moice.cli;

import moice.Bounds;
import moice.attention.MsPoeAttention;
import moice.load.LoadedModel;
import moice.io.SafeTensors;
import moice.model.AttentionBuckets;
import moice.model.InferenceSession;
import moice.model.Model;
import moice.model.Sampler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --method ab} and {@code --method mspoe} through {@code Main.run}: forward vs the fixtures, generate, bench. */
class BaselinesCliTest {
    static final Path AB = Path.of("src/test/resources/moice/ab-llama-gqa");
    static final Path AB_MODEL = Path.of("src/test/resources/models/llama-gqa");
    static final Path MSPOE = Path.of("src/test/resources/moice/mspoe-llama-gqa");

    @TempDir
    Path tmp;

    @Test
    void forwardAttentionBucketsMatchesReference() {
        // llama-gqa has rope_theta 10000, so the default bases are the fixture's retrieval-QA set
        float[] expected = logits(AB.resolve("logits.safetensors"));
        double bound = Bounds.forwardPass(AB_MODEL, AB.resolve("tokens.json"));
        Bounds.assertWithin(expected, forward(AB_MODEL, AB, "a", "--method", "ab"), bound, "ab");
        Bounds.assertWithin(expected, forward(AB_MODEL, AB, "b", "--method", "ab",
                "--ab-bases", "10000,13000,16000,19000,22000,25000,28000"), bound, "ab with explicit bases");
        float[] one = forward(AB_MODEL, AB, "c", "--method", "ab", "--ab-bases", "10000");
        Bounds.assertSameBits(forward(AB_MODEL, AB, "d"), one, "one base θ is vanilla");
    }

    @Test
    void forwardMsPoeMatchesReference() {
        Path model = MSPOE.resolve("model");
        double bound = Bounds.forwardPass(model, MSPOE.resolve("tokens.json"));
        Bounds.assertWithin(logits(MSPOE.resolve("logits.safetensors")), forward(model, MSPOE, "a", "--method", "mspoe"),
                bound, "mspoe");
        float[] unit = forward(model, MSPOE, "b", "--method", "mspoe", "--mspoe-min", "1", "--mspoe-max", "1");
        Bounds.assertWithin(logits(MSPOE.resolve("vanilla_logits.safetensors")), unit, bound, "mspoe unit ratios");
        float[] explicit = forward(model, MSPOE, "c", "--method", "MsPoE", "--mspoe-min", "1.2", "--mspoe-max", "1.8");
        Bounds.assertWithin(logits(MSPOE.resolve("logits.safetensors")), explicit, bound, "mspoe explicit ratios");
    }

    /** Greedy generate with each baseline prints what prefill + token-by-token argmax of that method gives. */
    @Test
    void generateRunsTheBaselines() throws IOException {
        Path dir = TinyChatModel.write(tmp.resolve("tiny4"), 4);
        String prompt = "Hello there, how are you";
        String vanilla = generate(dir, prompt);
        assertEquals(vanilla, generate(dir, prompt, "--method", "mspoe", "--mspoe-min", "1", "--mspoe-max", "1"));
        assertEquals(vanilla, generate(dir, prompt, "--method", "ab", "--ab-bases", "10000"));
        try (LoadedModel m = LoadedModel.open(dir)) {
            Model model = m.model();
            var c = m.config();
            MsPoeAttention mspoe = new MsPoeAttention(model.attentionShape(), c.numLayers(), c.ropeTheta(),
                    c.ropeScaling(), c.maxPositions(), 1.2, 1.8);
            int[] ids = m.tokenizer().encode(prompt, true);
            assertEquals(greedyText(m, InferenceSession.factory(model, mspoe), ids),
                    generate(dir, prompt, "--method", "mspoe"));
            assertEquals(greedyText(m, new AttentionBuckets(model, new double[]{10000, 30000, 90000}), ids),
                    generate(dir, prompt, "--method", "ab", "--ab-bases", "10000,30000,90000"));
        }
    }

    @Test
    void benchComparesMethods() {
        CliTest.Run r = CliTest.run("bench", "--model", MSPOE.resolve("model").toString(), "--prefill", "20",
                "--decode", "4", "--repeats", "1", "--method", "vanilla,ab,mspoe", "--ab-bases", "10000,20000");
        assertEquals(0, r.code(), r.err());
        for (String m : List.of("vanilla", "ab", "mspoe"))
            for (String test : List.of("prefill 20", "decode 4"))
                assertTrue(r.out().lines().anyMatch(l -> l.startsWith("| " + m + " ") && l.contains(test)),
                        m + " " + test + " in\n" + r.out());
        assertTrue(r.out().contains("ab: 2 passes"), r.out());
    }

    /** Both KV cache precisions in one run: every method once per precision, and each cache's size. */
    @Test
    void benchComparesKvCachePrecisions() {
        CliTest.Run r = CliTest.run("bench", "--model", MSPOE.resolve("model").toString(), "--prefill", "20",
                "--decode", "4", "--repeats", "1", "--method", "vanilla", "--kv-cache", "f32,f16");
        assertEquals(0, r.code(), r.err());
        for (String m : List.of("vanilla ", "vanilla (f16 KV) "))
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith("| " + m) && l.contains("decode 4")), m + "\n" + r.out());
        try (var m = moice.load.LoadedModel.open(MSPOE.resolve("model"))) {
            for (var p : moice.model.KVCache.Precision.values())
                assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, "%.1f MiB (%s)",
                        moice.model.KVCache.bytesFor(m.config(), 20, p) / 1048576.0,
                        p.name().toLowerCase(java.util.Locale.ROOT))), r.out());
        }
    }

    @Test
    void badFlagsAreOneLineErrors() {
        fails("--ab-bases needs --method ab", "--ab-bases", "10000");
        fails("--mspoe-min/--mspoe-max/--mspoe-group-ratios need --method mspoe", "--mspoe-min", "1.1");
        fails("expected 0 < min <= max", "--method", "mspoe", "--mspoe-min", "2", "--mspoe-max", "1");
        fails("every base must be a positive number", "--method", "ab", "--ab-bases", "10000,-5");
        fails("one method expected here", "--method", "vanilla,ab");
        fails("unknown attention method 'buckets'", "--method", "buckets");
    }

    private void fails(String fragment, String... extra) {
        List<String> args = new ArrayList<>(List.of("forward", "--model", AB_MODEL.toString(), "--tokens",
                AB.resolve("tokens.json").toString(), "--out", tmp.resolve("x.safetensors").toString()));
        args.addAll(Arrays.asList(extra));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line: " + err);
        assertTrue(err.startsWith("moice: ") && err.contains(fragment), err);
    }

    private static String greedyText(LoadedModel m, InferenceSession.Factory sessions, int[] prompt) {
        int vocab = m.config().vocabSize(), n = 6;
        InferenceSession s = sessions.open(prompt.length + n);
        float[] logits = s.forward(prompt, 1);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int next = Sampler.argmax(logits, 0, vocab);
            if (m.stopTokenIds().contains(next)) break;
            out.add(next);
            if (i + 1 < n) logits = s.forward(new int[]{next}, 1);
        }
        return m.tokenizer().decode(out.stream().mapToInt(Integer::intValue).toArray(), true).stripTrailing();
    }

    private String generate(Path dir, String prompt, String... extra) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", dir.toString(), "--prompt", prompt,
                "--max-tokens", "6", "--temperature", "0"));
        args.addAll(Arrays.asList(extra));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return r.out().stripTrailing();
    }

    private float[] forward(Path model, Path fixture, String name, String... extra) {
        Path out = tmp.resolve(name + ".safetensors");
        List<String> args = new ArrayList<>(List.of("forward", "--model", model.toString(), "--tokens",
                fixture.resolve("tokens.json").toString(), "--out", out.toString()));
        args.addAll(Arrays.asList(extra));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return logits(out);
    }

    private static float[] logits(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] shape = st.shape("logits");
            return st.matrix("logits", (int) shape[0], (int) shape[1]).toFloats();
        }
    }
}
