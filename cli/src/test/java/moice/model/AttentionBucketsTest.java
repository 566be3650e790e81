package moice.model;

import moice.Bounds;
import moice.io.Json;
import moice.load.LoadedModel;
import moice.io.SafeTensors;
import moice.io.TokenIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Attention Buckets against the PyTorch reference (fixture ab-llama-gqa: combined logits and bucket weights for the
 * retrieval-QA bases), decode equal to prefill, and the reduction to vanilla.
 */
class AttentionBucketsTest {
    static final Path RESOURCES = Path.of("src/test/resources");
    static final Path FIXTURE = RESOURCES.resolve("moice/ab-llama-gqa");

    @Test
    void matchesReference() {
        Map<String, Object> ref = Json.object(Json.parseFile(FIXTURE.resolve("reference.json")), "reference.json");
        double[] bases = Json.array(ref.get("bases"), "bases").stream().mapToDouble(o -> Json.number(o, "base")).toArray();
        int[] ids = TokenIds.read(FIXTURE.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(RESOURCES.resolve(Json.string(ref.get("model"), "model")));
             SafeTensors expected = SafeTensors.open(FIXTURE.resolve("logits.safetensors"))) {
            assertArrayEquals(bases, AttentionBuckets.retrievalQaBases(m.config().ropeTheta()), 1e-9);
            AttentionBuckets.Session s = new AttentionBuckets(m.model(), bases).open(ids.length);
            float[] logits = s.forward(ids, ids.length);
            float[] refLogits = expected.matrix("logits", ids.length, m.config().vocabSize()).toFloats();
            float[] refWeights = expected.matrix("bucket_weights", ids.length, bases.length).toFloats();
            double bound = Bounds.forwardPass(m.config(), ids.length);
            Bounds.assertWithin(refLogits, logits, bound, "ab");
            // each bucket weight is a softmax of the buckets' largest logits, each within the forward-pass bound
            double delta = 0;
            for (float v : refLogits) delta = Math.max(delta, bound * Math.abs(v));
            double weightDiff = 0;
            float[] w = s.lastWeights();
            for (int i = 0; i < w.length; i++) {
                double diff = Math.abs(w[i] - refWeights[i]), allowed = Bounds.softmaxWeight(refWeights[i], delta);
                assertTrue(diff <= allowed, "bucket weight " + i + ": error " + diff + " above " + allowed);
                weightDiff = Math.max(weightDiff, diff);
            }
            System.out.printf("ab: max|Δw| = %.2e%n", weightDiff);
        }
    }

    /** Prefill of a prefix then one token at a time gives the logits of one prefill of everything. */
    @Test
    void decodeEqualsPrefill() {
        int[] ids = TokenIds.read(FIXTURE.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(RESOURCES.resolve("models/llama-gqa"))) {
            AttentionBuckets ab = new AttentionBuckets(m.model(), new double[]{10000, 20000, 40000});
            int vocab = m.config().vocabSize();
            float[] whole = ab.open(ids.length).forward(ids, ids.length);
            InferenceSession s = ab.open(ids.length);
            int prompt = 17;
            float[] steps = Arrays.copyOf(s.forward(Arrays.copyOf(ids, prompt), prompt), ids.length * vocab);
            for (int t = prompt; t < ids.length; t++)
                System.arraycopy(s.forward(new int[]{ids[t]}, 1), 0, steps, t * vocab, vocab);
            assertEquals(ids.length, s.size());
            Bounds.assertWithin(whole, steps, Bounds.forwardPass(m.config(), ids.length), "ab decode vs prefill");
        }
    }

    /** One bucket whose base is rope_theta: weight 1, the logits of the vanilla model. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2-bias-tied", "llama3-rope", "llama-yarn-rope"})
    void singleBaseEqualsVanilla(String name) {
        Path dir = RESOURCES.resolve("models").resolve(name);
        int[] ids = TokenIds.read(dir.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(dir)) {
            Model model = m.model();
            float[] vanilla = model.forward(ids, model.newCache(ids.length), model.vanilla(), ids.length);
            AttentionBuckets.Session s = new AttentionBuckets(model, new double[]{m.config().ropeTheta()}).open(ids.length);
            float[] ab = s.forward(ids, ids.length);
            Bounds.assertSameBits(vanilla, ab, name);
            for (float w : s.lastWeights()) assertEquals(1f, w);
        }
    }
}
