package moice.attention;

import moice.Bounds;
import moice.load.LoadedModel;
import moice.io.RouterFile;
import moice.io.TokenIds;
import moice.model.KVCache;
import moice.model.Model;
import moice.model.ModelConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties MoICE must have whatever the routers: reductions to vanilla, and decode equal to prefill. */
class MoiceInvariantTest {
    static final Path MODELS = Path.of("src/test/resources/models");

    /**
     * One base equal to rope_theta, K = 1: every weight is exactly 1 and the only expert is vanilla attention, run by
     * the mixed-expert kernel instead of vanilla's, so the two differ by summation order only ({@link Bounds#forwardPass}).
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "qwen2-bias-tied", "llama3-rope", "llama-yarn-rope"})
    void singleBaseEqualsVanilla(String name) {
        try (LoadedModel m = LoadedModel.open(MODELS.resolve(name))) {
            ModelConfig c = m.config();
            Routers routers = Routers.random(new double[]{c.ropeTheta()}, 1, c.headDim(), c.numLayers(), 0.5, 7);
            float[][] both = vanillaAndMoice(m, routers);
            Bounds.assertWithin(both[0], both[1], bound(m), name);
        }
    }

    /** K = N = 7 with all bases equal to rope_theta: the renormalised weights sum to 1 over identical experts. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "qwen2-bias-tied", "llama-yarn-rope"})
    void equalBasesEqualVanilla(String name) {
        try (LoadedModel m = LoadedModel.open(MODELS.resolve(name))) {
            ModelConfig c = m.config();
            double[] bases = new double[7];
            Arrays.fill(bases, c.ropeTheta());
            Routers routers = Routers.random(bases, 7, c.headDim(), c.numLayers(), 0.5, 11);
            float[][] both = vanillaAndMoice(m, routers);
            Bounds.assertWithin(both[0], both[1], bound(m), name);
        }
    }

    /**
     * Prefill in uneven chunks then one token at a time gives the logits and routing of one prefill of the whole
     * sequence (the fixture routers, so experts really differ).
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "qwen2-bias-tied", "llama3-rope", "llama-yarn-rope"})
    void stepByStepEqualsPrefill(String name) {
        stepByStepEqualsPrefill(name, false);
    }

    /** As above, the step-by-step run keeping rotated key copies (the mixed kernel then runs even for one token). */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "llama-yarn-rope"})
    void stepByStepWithRotatedCopiesEqualsPrefill(String name) {
        stepByStepEqualsPrefill(name, true);
    }

    private void stepByStepEqualsPrefill(String name, boolean rotatedCopies) {
        Path fixture = MoiceFixtureTest.RESOURCES.resolve("moice").resolve(name);
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(MoiceFixtureTest.modelDir(fixture))) {
            Model model = m.model();
            ModelConfig c = m.config();
            int vocab = c.vocabSize();
            Routers routers = RouterFile.read(fixture.resolve("routers.safetensors"), c.numLayers(), c.headDim());
            MoiceAttention.State fullState = moice(m, routers).recordingRouting().newState();
            float[] full = model.forward(ids, model.newCache(ids.length), moice(m, routers), fullState, ids.length);
            RoutingLog fullLog = fullState.routingLog();

            KVCache cache = model.newCache(ids.length);
            MoiceAttention attention = moice(m, routers).withRotatedKeyCopies(rotatedCopies).recordingRouting();
            MoiceAttention.State state = attention.newState();
            RoutingLog stepLog = state.routingLog();
            int split = ids.length / 3;
            double bound = Bounds.forwardPass(c, ids.length);
            float[] first = model.forward(Arrays.copyOf(ids, split), cache, attention, state, split);
            assertClose(full, 0, first, 0, split * vocab, bound, name + " chunk");
            for (int t = split; t < ids.length; t++) {
                float[] step = model.forward(new int[]{ids[t]}, cache, attention, state, 1);
                assertClose(full, t * vocab, step, 0, vocab, bound, name + " step " + t);
            }
            for (int l = 0; l < c.numLayers(); l++) {
                assertEquals(ids.length, stepLog.positions(l));
                for (int t = 0; t < ids.length; t++)
                    for (int h = 0; h < c.numHeads(); h++) {
                        float[] zf = fullLog.routerLogits(l, t, h);
                        double[] z = new double[zf.length];
                        double zMax = 0;
                        for (int i = 0; i < z.length; i++) zMax = Math.max(zMax, Math.abs(z[i] = zf[i]));
                        if (Bounds.topKDecided(z, routers.topK(), bound * zMax))
                            assertArrayEquals(fullLog.experts(l, t, h), stepLog.experts(l, t, h));
                    }
            }
        }
    }

    private static MoiceAttention moice(LoadedModel m, Routers routers) {
        return MoiceAttention.create(m.model().attentionShape(), routers, m.config().ropeScaling(),
                m.config().maxPositions());
    }

    private static float[][] vanillaAndMoice(LoadedModel m, Routers routers) {
        int[] ids = TokenIds.read(MODELS.resolve(m.path().getFileName()).resolve("tokens.json"));
        Model model = m.model();
        float[] vanilla = model.forward(ids, model.newCache(ids.length), model.vanilla(), ids.length);
        float[] moice = model.forward(ids, model.newCache(ids.length), moice(m, routers), ids.length);
        return new float[][]{vanilla, moice};
    }

    /** Two float32 evaluations of the fixture model's tokens that differ by rounding only. */
    private static double bound(LoadedModel m) {
        return Bounds.forwardPass(m.config(), TokenIds.read(MODELS.resolve(m.path().getFileName()).resolve("tokens.json")).length);
    }

    static void assertClose(float[] a, int ao, float[] b, int bo, int n, double bound, String what) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < n; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[ao + i] - b[bo + i]));
            maxRef = Math.max(maxRef, Math.abs(a[ao + i]));
        }
        assertTrue(maxDiff <= bound * maxRef, what + ": max|Δ| " + maxDiff + " of " + maxRef + ", bound " + bound);
    }
}
