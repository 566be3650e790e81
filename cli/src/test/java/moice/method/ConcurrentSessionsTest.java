package moice.method;

import moice.attention.AttentionVariant;
import moice.attention.MoiceAttention;
import moice.attention.MsPoeAttention;
import moice.attention.Routers;
import moice.attention.VanillaAttention;
import moice.load.LoadedModel;
import moice.io.TokenIds;
import moice.model.InferenceSession;
import moice.model.Model;
import moice.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sessions of different methods share one loaded model, and two sessions of each method share its variant: run
 * concurrently on threads, on different prompts (so that per-sequence state such as Ms-PoE's head ranks differs), they
 * give bit for bit the logits they give one after another.
 */
class ConcurrentSessionsTest {
    /** A 4-layer GQA model, so Ms-PoE changes layers 2 and 3. */
    static final Path MODEL = Path.of("src/test/resources/moice/mspoe-llama-gqa/model");
    static final int DECODE = 12;

    @Test
    void concurrentSessionsMatchSequentialRuns() throws Exception {
        int[] prompt = TokenIds.read(Path.of("src/test/resources/moice/mspoe-llama-gqa/tokens.json"));
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            Model model = m.model();
            ModelConfig c = m.config();
            double[] bases = Method.officialBases(c.ropeTheta());
            // routers far from uniform, K < N, so that routing really differs between tokens and heads
            Routers trained = Routers.random(bases, 3, c.headDim(), c.numLayers(), 0.5, 3);
            List<Method> methods = List.of(new Method.Vanilla(), new Method.Moice(trained, "moice"),
                    Method.MsPoe.DEFAULT, new Method.EqualWeights(bases), new Method.RandomRouting(bases, 7, 1),
                    new Method.AttentionBuckets(null));
            List<InferenceSession.Factory> factories = methods.stream().map(x -> Methods.sessions(x, model)).toList();

            int[] reversed = new int[prompt.length];
            for (int i = 0; i < prompt.length; i++) reversed[i] = prompt[prompt.length - 1 - i];
            List<int[]> prompts = List.of(prompt, java.util.Arrays.copyOf(reversed, prompt.length - 7));

            // the reference, one after another (every kernel gives the same bits whichever JIT tier runs it)
            List<float[]> sequential = sequential(factories, prompts);

            int tasks = factories.size() * prompts.size(), rounds = 3;
            ExecutorService pool = Executors.newFixedThreadPool(tasks);
            try {
                for (int round = 0; round < rounds; round++) {
                    CyclicBarrier start = new CyclicBarrier(tasks);
                    List<Future<float[]>> results = new ArrayList<>();
                    for (InferenceSession.Factory f : factories)
                        for (int[] p : prompts)
                            results.add(pool.submit(() -> {
                                start.await();
                                return run(f, p);
                            }));
                    for (int i = 0; i < tasks; i++)
                        assertArrayEquals(sequential.get(i), results.get(i).get(), methods.get(i / prompts.size())
                                .label() + " prompt " + i % prompts.size() + " concurrently, round " + round);
                }
            } finally {
                pool.shutdownNow();
            }
            // the methods really differ from each other
            for (int i = 1; i < methods.size(); i++)
                assertTrue(!java.util.Arrays.equals(sequential.get(0), sequential.get(i * prompts.size())),
                        methods.get(i).label());
        }
    }

    private static List<float[]> sequential(List<InferenceSession.Factory> factories, List<int[]> prompts) {
        List<float[]> out = new ArrayList<>();
        for (InferenceSession.Factory f : factories) for (int[] p : prompts) out.add(run(f, p));
        return out;
    }

    /** Prefill of the prompt (all logits), then {@link #DECODE} greedy tokens one at a time: every logit row. */
    static float[] run(InferenceSession.Factory sessions, int[] prompt) {
        InferenceSession s = sessions.open(prompt.length + DECODE);
        float[] first = s.forward(prompt, prompt.length);
        int vocab = first.length / prompt.length;
        float[] all = java.util.Arrays.copyOf(first, (prompt.length + DECODE) * vocab);
        int next = argmax(first, (prompt.length - 1) * vocab, vocab);
        for (int t = 0; t < DECODE; t++) {
            float[] row = s.forward(new int[]{next}, 1);
            System.arraycopy(row, 0, all, (prompt.length + t) * vocab, vocab);
            next = argmax(row, 0, vocab);
        }
        assertEquals(prompt.length + DECODE, s.size());
        return all;
    }

    static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
        return best;
    }

    /** Variants keep no per-sequence fields: every instance field is final (per-thread scratch is a final ThreadLocal). */
    @Test
    void attentionVariantsHaveOnlyFinalFields() {
        for (Class<?> k : List.of(VanillaAttention.class, MoiceAttention.class, MsPoeAttention.class,
                moice.model.AttentionBuckets.class))
            for (Field f : k.getDeclaredFields())
                if (!Modifier.isStatic(f.getModifiers()))
                    assertTrue(Modifier.isFinal(f.getModifiers()), k.getSimpleName() + "." + f.getName() + " is not final");
        assertTrue(AttentionVariant.class.isInterface());
    }
}
