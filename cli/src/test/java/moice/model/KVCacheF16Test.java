package moice.model;

import moice.MoiceException;
import moice.attention.AttentionVariant;
import moice.attention.MoiceAttention;
import moice.attention.Routers;
import moice.load.LoadedModel;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The half-precision KV cache ({@link KVCache.Precision#F16}): every stored key and value is the IEEE binary16 value
 * nearest to what the projection computed (round to nearest even), and attention sees exactly those values, so a
 * forward pass over an F16 cache is bit for bit a forward pass over a float32 cache whose keys and values were rounded
 * to half precision before attention read them.
 */
class KVCacheF16Test {
    private static final Path DIR = HfLogitsTest.MODELS.resolve("llama-gqa");

    @Test
    void storesTheNearestHalfPrecisionValueAndWidensTheLayerLastStored() {
        try (LoadedModel m = LoadedModel.open(DIR)) {
            ModelConfig c = m.config();
            int kvDim = c.kvDim();
            KVCache cache = new KVCache(c, 100, KVCache.Precision.F16);
            Random r = new Random(3);
            float[][] k = new float[c.numLayers()][], v = new float[c.numLayers()][];
            int T = 40;
            for (int l = 0; l < c.numLayers(); l++) {
                k[l] = new float[T * kvDim];
                v[l] = new float[T * kvDim];
                for (int i = 0; i < T * kvDim; i++) {
                    k[l][i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
                    v[l][i] = (float) r.nextGaussian();
                }
            }
            // hand-checked binary16 values: 0.1 -> 0x2E66 = 0.0999755859375; 1/3 -> 0x3555 = 0.333251953125;
            // 65520 rounds up past the largest half (65504) to infinity; 2^-25 is half the smallest subnormal: ties
            // to even, i.e. to 0
            k[0][0] = 0.1f;
            k[0][1] = 1f / 3;
            k[0][2] = 65520f;
            k[0][3] = 0x1p-25f;
            for (int l = 0; l < c.numLayers(); l++) {
                // two stores (positions 0..24 then 25..39): the second grows nothing, both land where they belong
                cache.store(l, 0, 25, java.util.Arrays.copyOf(k[l], 25 * kvDim), java.util.Arrays.copyOf(v[l], 25 * kvDim));
                cache.store(l, 25, 15, java.util.Arrays.copyOfRange(k[l], 25 * kvDim, T * kvDim),
                        java.util.Arrays.copyOfRange(v[l], 25 * kvDim, T * kvDim));
                float[] keys = cache.keys(l), values = cache.values(l);
                for (int i = 0; i < T * kvDim; i++) {
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(k[l][i])), keys[i], "key " + i);
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(v[l][i])), values[i], "value " + i);
                }
                if (l == 0) {
                    assertEquals(0.0999755859375f, keys[0]);
                    assertEquals(0.333251953125f, keys[1]);
                    assertEquals(Float.POSITIVE_INFINITY, keys[2]);
                    assertEquals(0f, keys[3]);
                }
                int other = (l + 1) % c.numLayers();
                assertThrows(IllegalStateException.class, () -> cache.keys(other),
                        "only the layer just stored is widened");
            }
            cache.setSize(T);
            assertEquals(100, cache.allocatedPositions(), "the first store allocates 256 positions, capped at capacity");
            long stored = 2L * 2 * c.numLayers() * 100 * kvDim;
            assertEquals(stored + 2L * 4 * 100 * kvDim, cache.bytes(), "half-precision arrays plus one float32 layer");
            assertEquals(cache.bytes(), KVCache.bytesFor(c, 100, KVCache.Precision.F16));
            assertEquals(KVCache.bytesFor(c, 100) / 2 + 2L * 4 * 100 * kvDim, KVCache.bytesFor(c, 100, KVCache.Precision.F16));
        }
    }

    @Test
    void forwardOverAnF16CacheIsForwardOverRoundedFloat32KeysAndValues() {
        try (LoadedModel m = LoadedModel.open(DIR)) {
            Model model = m.model();
            ModelConfig c = m.config();
            Routers routers = Routers.random(new double[]{c.ropeTheta(), 3 * c.ropeTheta(), 8 * c.ropeTheta()}, 2,
                    c.headDim(), c.numLayers(), 0.5, 3);
            AttentionVariant moice = MoiceAttention.create(model.attentionShape(), routers, c.ropeScaling(),
                    c.maxPositions());
            for (AttentionVariant a : new AttentionVariant[]{model.vanilla(), moice}) {
                int[] prompt = new Random(5).ints(90, 0, c.vocabSize()).toArray();
                float[][] half = run(model.withKvPrecision(KVCache.Precision.F16), a, prompt, 12);
                float[][] rounded = run(model, new RoundingAttention(a), prompt, 12);
                float[][] exact = run(model, a, prompt, 12);
                boolean differs = false;
                for (int s = 0; s < half.length; s++) {
                    assertArrayEquals(rounded[s], half[s], a + ": step " + s);
                    differs |= !java.util.Arrays.equals(exact[s], half[s]);
                }
                assertTrue(differs, "half precision changes some logit (else this test proves nothing)");
            }
        }
    }

    @Test
    void decodeBatchOverF16CachesEqualsEachSequenceAlone() {
        try (LoadedModel m = LoadedModel.open(DIR)) {
            DecodeBatchTest.batchEqualsSolo(m.model().withKvPrecision(KVCache.Precision.F16), 9, 8, "F16 KV");
        }
    }

    @Test
    void precisionNamesParseAndOthersAreRefusedByName() {
        assertEquals(KVCache.Precision.F16, KVCache.Precision.parse("F16", "x"));
        assertEquals(KVCache.Precision.F32, KVCache.Precision.parse("float32", "x"));
        MoiceException e = assertThrows(MoiceException.class, () -> KVCache.Precision.parse("q8_0", "--kv-cache"));
        assertTrue(e.getMessage().contains("--kv-cache") && e.getMessage().contains("q8_0") && e.getMessage().contains("f16"), e.getMessage());
    }

    /** Prefill (logits of the last position), then greedy single-token steps; the logits of every call. */
    private static float[][] run(Model model, AttentionVariant a, int[] prompt, int steps) {
        KVCache cache = model.newCache(prompt.length + steps);
        AttentionVariant.State state = a.newState();
        int vocab = model.config().vocabSize();
        float[][] out = new float[steps + 1][];
        out[0] = model.forward(prompt, cache, a, state, 1);
        for (int s = 1; s <= steps; s++)
            out[s] = model.forward(new int[]{DecodeBatchTest.argmax(out[s - 1], 0, vocab)}, cache, a, state, 1);
        return out;
    }

    /** {@code inner} over copies of the float32 cache's keys and values rounded to half precision. */
    private record RoundingAttention(AttentionVariant inner) implements AttentionVariant {
        @Override
        public State newState() { return inner.newState(); }

        @Override
        public void attend(State state, int layer, float[] q, int T, int start, float[] keys, float[] values,
                           float[] out) {
            inner.attend(state, layer, q, T, start, round(keys), round(values), out);
        }

        private static float[] round(float[] x) {
            float[] y = new float[x.length];
            for (int i = 0; i < x.length; i++) y[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
            return y;
        }
    }
}
