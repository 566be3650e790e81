package moice.attention;

import moice.cli.Main;
import moice.io.Json;
import moice.io.LoadedModel;
import moice.io.RouterFile;
import moice.io.SafeTensors;
import moice.io.TokenIds;
import moice.model.Model;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MoICE against the independent PyTorch reference (scripts/reference/moice_reference.py): {@code bin/moice forward
 * --moice} logits within 1e-4 relative max error of {@code logits.safetensors}, and the routing decisions equal to
 * {@code routing.json}: experts exactly, in order; renormalised weights within 1e-5; router logits within 1e-4 of
 * max|z| (float32 noise of the whole forward pass reaches them).
 */
class MoiceFixtureTest {
    static final Path RESOURCES = Path.of("src/test/resources");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2-bias-tied", "mistral-mqa", "llama-gqa-k7", "llama3-rope",
            "llama-yarn-rope", "llama-dynamic-rope"})
    void forwardMatchesReference(String name) {
        Path fixture = RESOURCES.resolve("moice").resolve(name);
        Path out = tmp.resolve("logits.safetensors");
        int rc = Main.run("forward", "--model", modelDir(fixture).toString(),
                "--tokens", fixture.resolve("tokens.json").toString(), "--out", out.toString(),
                "--moice", fixture.resolve("routers.safetensors").toString());
        assertEquals(0, rc);
        float[] expected = logits(fixture.resolve("logits.safetensors"));
        float[] actual = logits(out);
        assertEquals(expected.length, actual.length);
        double rel = relativeMaxError(expected, actual);
        System.out.printf("moice %s: logits max|Δ|/max|ref| = %.2e%n", name, rel);
        assertTrue(rel <= 1e-4, name + ": relative max error " + rel);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2-bias-tied", "mistral-mqa", "llama-gqa-k7", "llama3-rope",
            "llama-yarn-rope", "llama-dynamic-rope"})
    void routingMatchesReference(String name) {
        Path fixture = RESOURCES.resolve("moice").resolve(name);
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        Map<String, Object> routing = Json.object(Json.parseFile(fixture.resolve("routing.json")), name);
        try (LoadedModel m = LoadedModel.open(modelDir(fixture))) {
            Model model = m.model();
            Routers routers = RouterFile.read(fixture.resolve("routers.safetensors"), m.config().numLayers(),
                    m.config().headDim());
            MoiceAttention moice = MoiceAttention.create(model.attentionShape(), routers, m.config().ropeScaling(),
                    m.config().maxPositions()).recordingRouting();
            MoiceAttention.State state = moice.newState();
            model.forward(ids, model.newCache(ids.length), moice, state, 0);
            RoutingLog log = state.routingLog();

            assertEquals(routers.topK(), Json.integer(routing.get("top_k"), "top_k"));
            List<Object> layers = Json.array(routing.get("layers"), "layers");
            assertEquals(m.config().numLayers(), layers.size());
            double maxWeightDiff = 0, maxLogitRel = 0;
            int events = 0;
            for (int l = 0; l < layers.size(); l++) {
                Map<String, Object> layer = Json.object(layers.get(l), "layer");
                List<Object> experts = Json.array(layer.get("experts"), "experts");
                List<Object> weights = Json.array(layer.get("weights"), "weights");
                List<Object> zs = Json.array(layer.get("router_logits"), "router_logits");
                assertEquals(ids.length, experts.size());
                assertEquals(ids.length, log.positions(l));
                for (int t = 0; t < ids.length; t++) {
                    List<Object> ht = Json.array(experts.get(t), "t"), hw = Json.array(weights.get(t), "w"),
                            hz = Json.array(zs.get(t), "z");
                    assertEquals(m.config().numHeads(), ht.size());
                    for (int h = 0; h < ht.size(); h++) {
                        int[] e = ints(ht.get(h));
                        double[] w = doubles(hw.get(h)), z = doubles(hz.get(h));
                        assertArrayEquals(e, log.experts(l, t, h), name + " layer " + l + " token " + t + " head " + h);
                        float[] gotW = log.weights(l, t, h), gotZ = log.routerLogits(l, t, h);
                        double zMax = 0;
                        for (double v : z) zMax = Math.max(zMax, Math.abs(v));
                        for (int i = 0; i < w.length; i++) maxWeightDiff = Math.max(maxWeightDiff, Math.abs(w[i] - gotW[i]));
                        for (int i = 0; i < z.length; i++)
                            maxLogitRel = Math.max(maxLogitRel, Math.abs(z[i] - gotZ[i]) / zMax);
                        events++;
                    }
                }
            }
            System.out.printf("moice %s: %d routing events, experts equal, max|Δweight| = %.2e, "
                    + "max|Δz|/max|z| = %.2e%n", name, events, maxWeightDiff, maxLogitRel);
            assertTrue(maxWeightDiff <= 1e-5, name + ": weight error " + maxWeightDiff);
            assertTrue(maxLogitRel <= 1e-4, name + ": router logit error " + maxLogitRel);
        }
    }

    /** The model a fixture was made with ({@code reference.json} "model", relative to src/test/resources). */
    static Path modelDir(Path fixture) {
        Map<String, Object> ref = Json.object(Json.parseFile(fixture.resolve("reference.json")), "reference.json");
        return RESOURCES.resolve(Json.string(ref.get("model"), "model"));
    }

    static float[] logits(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] shape = st.shape("logits");
            return st.matrix("logits", (int) shape[0], (int) shape[1]).toFloats();
        }
    }

    static double relativeMaxError(float[] expected, float[] actual) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        return maxDiff / maxRef;
    }

    private static int[] ints(Object list) {
        return Json.array(list, "ints").stream().mapToInt(o -> (int) Json.integer(o, "int")).toArray();
    }

    private static double[] doubles(Object list) {
        return Json.array(list, "numbers").stream().mapToDouble(o -> Json.number(o, "number")).toArray();
    }
}
