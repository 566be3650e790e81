package moice.attention;

import moice.Bounds;
import moice.io.Json;
import moice.load.LoadedModel;
import moice.io.TokenIds;
import moice.model.KVCache;
import moice.model.Model;
import moice.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ms-PoE against the PyTorch reference (scripts/reference/moice_reference.py, fixture mspoe-llama-gqa: a 4-layer
 * GQA model): prefill logits, prefill-then-decode logits and the per-layer outlier counts, head orders and ratios of
 * {@code mspoe.json}; plus the reductions to vanilla.
 */
class MsPoeFixtureTest {
    static final Path FIXTURE = MoiceFixtureTest.RESOURCES.resolve("moice/mspoe-llama-gqa");
    static final Path MODEL = FIXTURE.resolve("model");

    static MsPoeAttention mspoe(Model model, double min, double max) {
        ModelConfig c = model.config();
        return new MsPoeAttention(model.attentionShape(), c.numLayers(), c.ropeTheta(), c.ropeScaling(),
                c.maxPositions(), min, max);
    }

    static MsPoeAttention mspoe(Model model) {
        return mspoe(model, MsPoeAttention.DEFAULT_MIN_RATIO, MsPoeAttention.DEFAULT_MAX_RATIO);
    }

    @Test
    void prefillMatchesReference() {
        int[] ids = TokenIds.read(FIXTURE.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            MsPoeAttention mspoe = mspoe(m.model());
            MsPoeAttention.State attention = mspoe.newState();
            float[] logits = m.model().forward(ids, m.model().newCache(ids.length), mspoe, attention, ids.length);
            double rel = moice.Bounds.relativeMaxError(MoiceFixtureTest.logits(FIXTURE.resolve("logits.safetensors")), logits);
            System.out.printf("mspoe prefill: logits max|Δ|/max|ref| = %.2e%n", rel);
            assertTrue(rel <= Bounds.forwardPass(m.config(), ids.length), "relative max error " + rel);
            Map<String, Object> json = Json.object(Json.parseFile(FIXTURE.resolve("mspoe.json")), "mspoe.json");
            assertEquals(ids.length, Json.integer(json.get("prompt_len"), "prompt_len"));
            assertStatsEqual(Json.array(json.get("layers"), "layers"), attention, m.config().numLayers());
        }
    }

    /** Ratios fixed from the first 24 tokens, then one token at a time: the logits of every position. */
    @Test
    void decodeKeepsPrefillRatios() {
        int[] ids = TokenIds.read(FIXTURE.resolve("tokens.json"));
        Map<String, Object> json = Json.object(Json.parseFile(FIXTURE.resolve("mspoe.json")), "mspoe.json");
        Map<String, Object> continuation = Json.object(json.get("continuation"), "continuation");
        int prompt = (int) Json.integer(continuation.get("prompt_len"), "prompt_len");
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            Model model = m.model();
            int vocab = m.config().vocabSize();
            MsPoeAttention mspoe = mspoe(model);
            MsPoeAttention.State attention = mspoe.newState();
            KVCache cache = model.newCache(ids.length);
            float[] all = new float[ids.length * vocab];
            float[] first = model.forward(Arrays.copyOf(ids, prompt), cache, mspoe, attention, prompt);
            System.arraycopy(first, 0, all, 0, first.length);
            for (int t = prompt; t < ids.length; t++) {
                float[] row = model.forward(new int[]{ids[t]}, cache, mspoe, attention, 1);
                System.arraycopy(row, 0, all, t * vocab, vocab);
            }
            float[] expected = MoiceFixtureTest.logits(FIXTURE.resolve("continuation_logits.safetensors"));
            double rel = moice.Bounds.relativeMaxError(expected, all);
            System.out.printf("mspoe prefill %d + decode: logits max|Δ|/max|ref| = %.2e%n", prompt, rel);
            assertTrue(rel <= Bounds.forwardPass(m.config(), ids.length), "relative max error " + rel);
            assertStatsEqual(Json.array(continuation.get("layers"), "layers"), attention, m.config().numLayers());
        }
    }

    /**
     * Group ratios: every query head takes its KV head's ratio (so scores stay relative under GQA), and on this GQA
     * model the result differs from the per-head rule.
     */
    @Test
    void groupRatiosFollowTheKvHeadAndDecodeEqualsPrefill() {
        int[] ids = TokenIds.read(FIXTURE.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            Model model = m.model();
            ModelConfig c = m.config();
            int group = c.numHeads() / c.numKvHeads();
            MsPoeAttention grouped = new MsPoeAttention(model.attentionShape(), c.numLayers(), c.ropeTheta(),
                    c.ropeScaling(), c.maxPositions(), MsPoeAttention.DEFAULT_MIN_RATIO, MsPoeAttention.DEFAULT_MAX_RATIO, true);
            MsPoeAttention.State state = grouped.newState();
            float[] whole = model.forward(ids, model.newCache(ids.length), grouped, state, ids.length);
            for (int l = MsPoeAttention.FIRST_LAYER; l < c.numLayers(); l++) {
                double[] r = state.ratios(l), kv = state.kvRatios(l);
                for (int h = 0; h < r.length; h++) assertEquals(kv[h / group], r[h], 0.0, "layer " + l + " head " + h);
            }
            float[] perHead = model.forward(ids, model.newCache(ids.length), mspoe(model), ids.length);
            // beyond anything rounding explains
            assertTrue(moice.Bounds.relativeMaxError(perHead, whole) > 10 * Bounds.forwardPass(c, ids.length),
                    "group ratios changed nothing");

        }
    }

    private static void assertStatsEqual(List<Object> layers, MsPoeAttention.State attention, int numLayers) {
        assertEquals(numLayers - MsPoeAttention.FIRST_LAYER, layers.size());
        for (Object o : layers) {
            Map<String, Object> layer = Json.object(o, "layer");
            int l = (int) Json.integer(layer.get("layer"), "layer");
            assertArrayEquals(ints(layer.get("outlier_counts")), attention.outlierCounts(l), "layer " + l + " counts");
            assertArrayEquals(ints(layer.get("order")), attention.headOrder(l), "layer " + l + " order");
            assertArrayEquals(doubles(layer.get("ratios")), attention.ratios(l), 1e-12, "layer " + l + " ratios");
            assertArrayEquals(doubles(layer.get("kv_ratios")), attention.kvRatios(l), 1e-12, "layer " + l + " kv");
        }
        for (int l = 0; l < MsPoeAttention.FIRST_LAYER; l++) assertNull(attention.outlierCounts(l));
    }

    /** Ratios all 1 make every Ms-PoE layer vanilla: the vanilla logits, and the fixture's vanilla logits. */
    @Test
    void unitRatiosEqualVanilla() {
        int[] ids = TokenIds.read(FIXTURE.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            Model model = m.model();
            float[] vanilla = model.forward(ids, model.newCache(ids.length), model.vanilla(), ids.length);
            float[] unit = model.forward(ids, model.newCache(ids.length), mspoe(model, 1, 1), ids.length);
            Bounds.assertSameBits(vanilla, unit, "Ms-PoE with unit ratios vs vanilla");
            double rel = moice.Bounds.relativeMaxError(
                    MoiceFixtureTest.logits(FIXTURE.resolve("vanilla_logits.safetensors")), unit);
            assertTrue(rel <= Bounds.forwardPass(m.config(), ids.length), "vs vanilla fixture: relative max error " + rel);
            float[] moved = model.forward(ids, model.newCache(ids.length), mspoe(model), ids.length);
            assertTrue(moice.Bounds.relativeMaxError(vanilla, moved) > 10 * Bounds.forwardPass(m.config(), ids.length),
                    "default Ms-PoE must move the logits beyond rounding");
        }
    }

    /** On a 2-layer model only layers 0 and 1 exist, which Ms-PoE leaves vanilla. */
    @Test
    void twoLayerModelIsVanilla() {
        Path dir = MoiceInvariantTest.MODELS.resolve("llama-gqa");
        int[] ids = TokenIds.read(dir.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(dir)) {
            Model model = m.model();
            float[] vanilla = model.forward(ids, model.newCache(ids.length), model.vanilla(), ids.length);
            float[] mspoe = model.forward(ids, model.newCache(ids.length), mspoe(model), ids.length);
            Bounds.assertSameBits(vanilla, mspoe, "Ms-PoE on a 2-layer model vs vanilla");
        }
    }

    /**
     * A prompt longer than the model's block size still reaches attention as one block (the ratios need the last
     * prompt token), and a new prefill from an empty cache ranks the heads afresh.
     */
    @Test
    void longPrefillIsOneBlockAndEachPromptIsRankedAnew() {
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            Model model = m.model();
            int[] ids = new Random(5).ints(700, 0, m.config().vocabSize()).toArray();
            MsPoeAttention mspoe = mspoe(model);
            MsPoeAttention.State state = mspoe.newState();
            int[] largest = new int[1];
            AttentionVariant spy = new AttentionVariant() {
                @Override
                public void attend(State s, int layer, float[] q, int T, int start, float[] keys, float[] values,
                                   float[] out) {
                    largest[0] = Math.max(largest[0], T);
                    mspoe.attend(state, layer, q, T, start, keys, values, out);
                }

                @Override
                public boolean needsWholeBlock(int start) {
                    return mspoe.needsWholeBlock(start);
                }
            };
            model.forward(ids, model.newCache(ids.length), spy, 1);
            assertEquals(ids.length, largest[0]);
            int[] longCounts = state.outlierCounts(2);

            int[] prompt = TokenIds.read(FIXTURE.resolve("tokens.json"));
            model.forward(prompt, model.newCache(prompt.length), mspoe, state, 1);
            Map<String, Object> json = Json.object(Json.parseFile(FIXTURE.resolve("mspoe.json")), "mspoe.json");
            Map<String, Object> layer2 = Json.object(Json.array(json.get("layers"), "layers").get(0), "layer");
            assertArrayEquals(ints(layer2.get("outlier_counts")), state.outlierCounts(2));
            assertTrue(!Arrays.equals(longCounts, state.outlierCounts(2)) || longCounts.length == 0);
        }
    }

    @Test
    void decodeBeforePrefillIsAnError() {
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            Model model = m.model();
            KVCache cache = model.newCache(4);
            model.forward(new int[]{1, 2}, cache, model.vanilla(), 1);
            assertThrows(IllegalStateException.class, () -> model.forward(new int[]{3}, cache, mspoe(model), 1));
        }
    }

    static int[] ints(Object list) {
        return Json.array(list, "ints").stream().mapToInt(o -> (int) Json.integer(o, "int")).toArray();
    }

    static double[] doubles(Object list) {
        return Json.array(list, "numbers").stream().mapToDouble(o -> Json.number(o, "number")).toArray();
    }
}
