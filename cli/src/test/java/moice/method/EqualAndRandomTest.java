package moice.method;

import moice.Bounds;
import moice.attention.AttentionShape;
import moice.attention.AttentionVariant;
import moice.attention.MoiceAttention;
import moice.attention.RopeLayout;
import moice.attention.RopeProvider;
import moice.attention.RopeScaling;
import moice.attention.Routers;
import moice.attention.RoutingLog;
import moice.attention.VanillaAttention;
import moice.load.LoadedModel;
import moice.io.TokenIds;
import moice.model.InferenceSession;
import moice.model.Model;
import moice.model.ModelConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The paper's two routing controls: equal weights (all bases 1/N, no router) and random routing. */
class EqualAndRandomTest {
    /**
     * Equal weights' attention output is the mean of the N single-base attention outputs (each computed on its own by
     * vanilla RoPE attention with that base), for a decode-sized and a prefill-sized block (the two MoICE kernels),
     * and every routing event selects all N experts with weight exactly 1/N.
     */
    @ParameterizedTest
    @CsvSource({"4, 2, 3, 40", "8, 2, 40, 0", "6, 6, 1, 70", "4, 1, 24, 9"})
    void equalWeightsIsTheMeanOfTheSingleBaseOutputs(int heads, int kvHeads, int T, int start) {
        int d = 16, n = 7, layers = 2;
        AttentionShape shape = new AttentionShape(heads, kvHeads, d, 0, RopeLayout.HALF_SPLIT);
        Random rnd = new Random(heads * 31 + T);
        int end = start + T;
        float[] keys = random(rnd, end * shape.kvDim()), values = random(rnd, end * shape.kvDim());
        float[] q = random(rnd, T * shape.qDim());
        double[] bases = Method.officialBases(10000);
        Method.EqualWeights equal = new Method.EqualWeights(bases);
        Routers routers = equal.routers(d, layers);
        assertEquals(n, routers.topK());
        MoiceAttention moice = MoiceAttention.create(shape, routers, RopeScaling.NONE, 4096).recordingRouting();
        MoiceAttention.State state = moice.newState();
        float[] actual = new float[T * shape.qDim()];
        moice.attend(state, 1, q.clone(), T, start, keys, values, actual);

        double[] mean = new double[T * shape.qDim()];
        for (double base : bases) {
            VanillaAttention single = new VanillaAttention(shape, new RopeProvider(base, d, RopeScaling.NONE, 4096));
            float[] o = new float[T * shape.qDim()];
            single.attend(AttentionVariant.STATELESS, 1, q.clone(), T, start, keys, values, o);
            for (int i = 0; i < o.length; i++) mean[i] += o[i] / (double) n;
        }
        // each expert within the attention bound of its single-base run; the 1/N weights and the N-term mix rounded
        double maxDiff = 0, maxV = Bounds.maxAbs(values);
        for (int i = 0; i < mean.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mean[i] - actual[i]));
        double bound = Bounds.attentionOutput(d, end, Bounds.maxNorm(q, d) * Bounds.maxNorm(keys, d) / Math.sqrt(d), maxV)
                + (Bounds.gamma(n) + 2 * Bounds.U) * maxV;
        assertTrue(maxDiff <= bound, "max |Δ| " + maxDiff + " above the bound " + bound);

        RoutingLog log = state.routingLog();
        for (int t = start; t < end; t++)
            for (int h = 0; h < heads; h++) {
                int[] experts = log.experts(1, t, h);
                Arrays.sort(experts);
                assertArrayEquals(new int[]{0, 1, 2, 3, 4, 5, 6}, experts);
                for (float w : log.weights(1, t, h)) assertEquals((float) (1.0 / n), w, 0f);
                for (float z : log.routerLogits(1, t, h)) assertEquals(0f, z, 0f);
            }
    }

    /**
     * Random routing is MoICE with the routers {@code routers init --seed S} draws (normal(0, 0.02), official bases,
     * K = N = 7): the same seed gives bit-identical logits, another seed other logits, and the spec's default seed is 1.
     */
    @Test
    void randomRoutingIsDeterministicInItsSeed() {
        int[] ids = TokenIds.read(java.nio.file.Path.of("src/test/resources/models/llama-gqa/tokens.json"));
        try (LoadedModel m = LoadedModel.open(java.nio.file.Path.of("src/test/resources/models/llama-gqa"))) {
            Model model = m.model();
            ModelConfig c = m.config();
            Method spec = MethodSpec.parse("random", "--method").resolve(c, java.util.Optional.empty(), "--method");
            assertEquals(new Method.RandomRouting(Method.officialBases(c.ropeTheta()), 7, 1), spec);
            Method.RandomRouting r = (Method.RandomRouting) spec;
            Routers expected = Routers.random(Method.officialBases(c.ropeTheta()), 7, c.headDim(), c.numLayers(), 0.02, 1);
            Routers actual = r.routers(c.headDim(), c.numLayers());
            for (int l = 0; l < c.numLayers(); l++) {
                assertArrayEquals(expected.gate1()[l], actual.gate1()[l]);
                assertArrayEquals(expected.gate2()[l], actual.gate2()[l]);
                assertArrayEquals(expected.gate3()[l], actual.gate3()[l]);
            }
            float[] a = logits(model, r, ids), b = logits(model, new Method.RandomRouting(r.bases(), 7, 1), ids);
            float[] other = logits(model, new Method.RandomRouting(r.bases(), 7, 2), ids);
            float[] equal = logits(model, new Method.EqualWeights(r.bases()), ids);
            assertArrayEquals(a, b);
            assertFalse(Arrays.equals(a, other), "seed 2 routes like seed 1");
            assertFalse(Arrays.equals(a, equal), "random routing is not equal weights");
        }
    }

    private static float[] logits(Model model, Method method, int[] ids) {
        InferenceSession s = Methods.sessions(method, model).open(ids.length);
        return s.forward(ids, ids.length);
    }

    static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }
}
