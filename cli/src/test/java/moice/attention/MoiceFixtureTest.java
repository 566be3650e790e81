package moice.attention;

import moice.io.HfConfig;
import moice.Bounds;
import moice.cli.Main;
import moice.io.Json;
import moice.load.LoadedModel;
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
 * --moice} logits within {@link Bounds#forwardPass} of {@code logits.safetensors}, and the routing of
 * {@code routing.json}: router logits within the same bound of max|z| (they are computed inside the forward pass);
 * the experts, in order, equal wherever that bound decides them ({@link Bounds#topKDecided}; at a near-tie our
 * choice must be as good as the reference's within the bound); renormalised weights within what the observed logit
 * error implies through the softmax ({@link Bounds#softmaxWeight}).
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
        Bounds.assertWithin(expected, actual, Bounds.forwardPass(HfConfig.load(modelDir(fixture).resolve("config.json")),
                TokenIds.read(fixture.resolve("tokens.json")).length), "moice " + name);
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
            double bound = Bounds.forwardPass(m.config(), ids.length);
            double maxWeightDiff = 0, maxLogitRel = 0, weightMargin = Double.POSITIVE_INFINITY;
            int events = 0, nearTies = 0;
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
                        String at = name + " layer " + l + " token " + t + " head " + h;
                        float[] gotW = log.weights(l, t, h), gotZ = log.routerLogits(l, t, h);
                        int[] gotE = log.experts(l, t, h);
                        double zMax = 0, dz = 0;
                        for (double v : z) zMax = Math.max(zMax, Math.abs(v));
                        for (int i = 0; i < z.length; i++) dz = Math.max(dz, Math.abs(z[i] - gotZ[i]));
                        maxLogitRel = Math.max(maxLogitRel, dz / zMax);
                        assertTrue(dz <= bound * zMax, at + ": router logit error " + dz / zMax + " above " + bound);
                        if (Bounds.topKDecided(z, e.length, bound * zMax)) {
                            assertArrayEquals(e, gotE, at);
                            for (int i = 0; i < w.length; i++) {
                                double diff = Math.abs(w[i] - gotW[i]), allowed = Bounds.softmaxWeight(w[i], dz);
                                assertTrue(diff <= allowed, at + ": weight error " + diff + " above " + allowed);
                                maxWeightDiff = Math.max(maxWeightDiff, diff);
                                weightMargin = Math.min(weightMargin, allowed / Math.max(diff, Double.MIN_VALUE));
                            }
                        } else {
                            nearTies++;
                            for (int r = 0; r < e.length; r++)
                                assertTrue(Math.abs(z[gotE[r]] - z[e[r]]) <= 2 * bound * zMax, at + " rank " + r
                                        + ": expert " + gotE[r] + " where the reference chose " + e[r]);
                        }
                        events++;
                    }
                }
            }
            System.out.printf("moice %s: %d routing events (%d near-ties under the bound), max|Δweight| = %.2e "
                    + "(smallest bound/error ratio %.1f), max|Δz|/max|z| = %.2e (bound %.2e)%n", name, events, nearTies,
                    maxWeightDiff, weightMargin, maxLogitRel, bound);
            assertTrue(nearTies < events / 10, name + ": " + nearTies + " of " + events + " events are near-ties");
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


    private static int[] ints(Object list) {
        return Json.array(list, "ints").stream().mapToInt(o -> (int) Json.integer(o, "int")).toArray();
    }

    private static double[] doubles(Object list) {
        return Json.array(list, "numbers").stream().mapToDouble(o -> Json.number(o, "number")).toArray();
    }
}
