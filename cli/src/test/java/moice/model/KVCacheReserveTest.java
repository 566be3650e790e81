package moice.model;

import moice.load.LoadedModel;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * The KV cache is allocated once for what a caller knows is coming ({@link KVCache#reserve}): a long prompt's positions
 * before its blocks run, a generation's end before its prefill; growing block by block copied the arrays and left the
 * old ones as garbage. Activations are shared by the blocks of one forward call, which must not change any logit.
 */
class KVCacheReserveTest {
    private static final Path DIR = HfLogitsTest.MODELS.resolve("llama-gqa");

    /** Token ids that cover the vocabulary, deterministic. */
    private static int[] tokens(int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = (int) ((i * 2654435761L + 17) % vocab);
        return ids;
    }

    @Test
    void reserveAllocatesOnceWithinTheGrowthLimitAndKeepsWhatIsStored() {
        try (LoadedModel m = LoadedModel.open(DIR)) {
            Model model = m.model();
            int kvDim = m.config().kvDim();
            KVCache cache = model.newCache(1000);
            var attention = model.vanilla();
            model.forward(tokens(10, m.config().vocabSize()), cache, attention, 1);
            assertEquals(256, cache.allocatedPositions(), "a one-block call grows the cache by its policy (256 first)");
            float[] stored = java.util.Arrays.copyOf(cache.keys(0), 10 * kvDim);

            cache.reserve(300);
            assertEquals(300, cache.allocatedPositions());
            assertArrayEquals(stored, java.util.Arrays.copyOf(cache.keys(0), 10 * kvDim), "contents kept");
            float[] keys = cache.keys(0);
            cache.reserve(200);
            assertSame(keys, cache.keys(0), "never shrinks, no copy when there is room");

            // steps past a reservation grow by doubling, not by one position per step (a copy of the cache each)
            model.forward(tokens(290, m.config().vocabSize()), cache, attention, 1);
            assertSame(keys, cache.keys(0), "300 positions fit the reservation");
            model.forward(new int[]{5}, cache, attention, 1);
            assertEquals(600, cache.allocatedPositions());

            cache.limitGrowth(700);
            cache.reserve(900);
            assertEquals(700, cache.allocatedPositions(), "never past the growth limit");
            assertEquals(KVCache.bytesFor(m.config(), 700), cache.bytes());
        }
    }

    /**
     * A prompt of three blocks ({@link Model#MAX_BLOCK}, the last one shorter) run in one call (shared activations,
     * cache reserved up front) gives bit for bit the logits of running the same blocks as separate calls (fresh
     * activations each, cache grown per call); the cache ends exactly as long as the prompt.
     */
    @Test
    void oneCallOverSeveralBlocksEqualsTheBlocksOneByOne() {
        try (LoadedModel m = LoadedModel.open(DIR)) {
            Model model = m.model();
            int vocab = m.config().vocabSize();
            int n = 2 * Model.MAX_BLOCK + 37;
            int[] ids = tokens(n, vocab);
            KVCache whole = model.newCache(4096);
            float[] once = model.forward(ids, whole, model.vanilla(), 40);
            assertEquals(n, whole.allocatedPositions(), "one allocation for the whole prompt, no doubling slack");

            KVCache parts = model.newCache(4096);
            var attention = model.vanilla();
            float[] last = null;
            for (int b = 0; b < n; b += Model.MAX_BLOCK) {
                int[] block = java.util.Arrays.copyOfRange(ids, b, Math.min(n, b + Model.MAX_BLOCK));
                last = model.forward(block, parts, attention, block.length);
            }
            // the last 40 positions: 3 from the second block, then the 37 of the last one
            assertArrayEquals(last, java.util.Arrays.copyOfRange(once, 3 * vocab, 40 * vocab));
        }
    }

    /** Generation reserves its end (at most twice the prompt, at least 256) before the prefill and never regrows. */
    @Test
    void generationAllocatesTheCacheOnce() {
        try (LoadedModel m = LoadedModel.open(DIR)) {
            Model model = m.model();
            int vocab = m.config().vocabSize();
            int[] prompt = tokens(600, vocab);
            InferenceSession.Single session = InferenceSession.of(model, model.vanilla(), 8192);
            Generator.TextStream stream = new Generator.TextStream() {
                @Override
                public String push(int id) {
                    return "";
                }

                @Override
                public String finish() {
                    return "";
                }
            };
            Generator.Result r = Generator.generate(m.config(), capacity -> session, prompt, new Sampler(0f, 0, 1f, 0), new Generator.Settings(20, Set.of(), List.of(), 8192),
                    stream, s -> { });
            assertEquals(20, r.tokens().length);
            assertEquals(619, session.size(), "the last sampled token is not run");
            assertEquals(KVCache.bytesFor(m.config(), 620), session.cacheBytes(),
                    "prompt + max tokens, allocated once (doubling would have held 1,024 or 1,200 positions)");
        }
    }
}
