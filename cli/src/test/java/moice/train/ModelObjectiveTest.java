package moice.train;

import moice.Bounds;
import moice.attention.MoiceAttention;
import moice.attention.Routers;
import moice.io.Json;
import moice.load.LoadedModel;
import moice.io.RouterFile;
import moice.io.TokenIds;
import moice.model.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training objective against independent computations: its loss against the cross-entropy of the inference
 * forward pass, its router gradients against central finite differences of its own loss.
 */
class ModelObjectiveTest {
    static final Path RESOURCES = Path.of("src/test/resources");

    static Path modelDir(Path fixture) {
        Map<String, Object> ref = Json.object(Json.parseFile(fixture.resolve("reference.json")), "reference.json");
        return RESOURCES.resolve(Json.string(ref.get("model"), "model"));
    }

    /** Mean next-token CE of the inference forward (MoiceAttention, all logits), in double. */
    static double inferenceCrossEntropy(Model model, Routers routers, int[] ids) {
        var c = model.config();
        var moice = MoiceAttention.create(model.attentionShape(), routers, c.ropeScaling(), c.maxPositions());
        float[] logits = model.forward(ids, model.newCache(ids.length), moice, ids.length);
        int V = c.vocabSize();
        double total = 0;
        for (int t = 0; t + 1 < ids.length; t++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
            for (int v = 0; v < V; v++) sum += Math.exp(logits[t * V + v] - max);
            total += max + Math.log(sum) - logits[t * V + ids[t + 1]];
        }
        return total / (ids.length - 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2-bias-tied", "mistral-mqa"})
    void lossEqualsInferenceCrossEntropy(String name) {
        Path fixture = RESOURCES.resolve("moice").resolve(name);
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(modelDir(fixture))) {
            Routers routers = RouterFile.read(fixture.resolve("routers.safetensors"));
            ModelObjective objective = new ModelObjective(m.model());
            RouterGradients grads = RouterGradients.zerosLike(routers);
            RouterObjective.Loss loss = objective.evaluate(ids, null, routers, 0.0, grads, 1f);
            double expected = inferenceCrossEntropy(m.model(), routers, ids);
            // training's forward and the inference forward are two float32 evaluations of the same loss
            assertEquals(expected, loss.ce(), Bounds.forwardPass(m.config(), ids.length) * expected, name);
            assertEquals(ids.length - 1, loss.targetCount());
            assertTrue(grads.norm() > 0);
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.3})
    void gradientsMatchFiniteDifferences(double auxCoef) {
        Path fixture = RESOURCES.resolve("moice").resolve("llama-gqa");
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(modelDir(fixture))) {
            Routers routers = RouterFile.read(fixture.resolve("routers.safetensors"));
            ModelObjective objective = new ModelObjective(m.model());
            RouterGradients grads = RouterGradients.zerosLike(routers);
            objective.evaluate(ids, null, routers, auxCoef, grads, 1f);
            long[] routing = objective.lastChoiceCounts();

            // the largest gradient entries of each gate kind, over all layers
            record Entry(float[] weights, float[] grad, int index, String what) {}
            List<Entry> entries = new ArrayList<>();
            for (int l = 0; l < routers.numLayers(); l++) {
                float[][] w = {routers.gate1()[l], routers.gate2()[l], routers.gate3()[l]};
                float[][] g = {grads.gate1()[l], grads.gate2()[l], grads.gate3()[l]};
                for (int kind = 0; kind < 3; kind++) {
                    float[] gk = g[kind];
                    Integer[] order = new Integer[gk.length];
                    for (int i = 0; i < order.length; i++) order[i] = i;
                    java.util.Arrays.sort(order, Comparator.comparingDouble(i -> -Math.abs(gk[i])));
                    for (int i : java.util.Arrays.copyOf(order, 4))
                        entries.add(new Entry(w[kind], gk, i, "layer " + l + " gate_" + (kind + 1) + "[" + i + "]"));
                }
            }
            entries.sort(Comparator.comparingDouble((Entry e) -> -Math.abs(e.grad[e.index])));
            double maxGrad = Math.abs(entries.get(0).grad[entries.get(0).index]);
            int checked = 0;
            for (Entry e : entries) {
                if (checked == 8) break;
                float original = e.weights[e.index];
                float h = 3e-3f * Math.max(0.1f, Math.abs(original));
                e.weights[e.index] = original + h;
                double plus = objective.evaluate(ids, null, routers, auxCoef, RouterGradients.zerosLike(routers), 1f).total();
                boolean flipped = !java.util.Arrays.equals(routing, objective.lastChoiceCounts());
                e.weights[e.index] = original - h;
                double minus = objective.evaluate(ids, null, routers, auxCoef, RouterGradients.zerosLike(routers), 1f).total();
                flipped |= !java.util.Arrays.equals(routing, objective.lastChoiceCounts());
                e.weights[e.index] = original;
                // a changed top-K choice makes the loss jump (the load-balancing fractions f are step functions)
                if (flipped) {
                    System.out.printf("aux %.1f %s: routing changed under ±%.1e, skipped%n", auxCoef, e.what, h);
                    continue;
                }
                checked++;
                double fd = (plus - minus) / (2.0 * h), g = e.grad[e.index];
                System.out.printf("aux %.1f %s: analytic %.6e, finite difference %.6e%n", auxCoef, e.what, g, fd);
                assertEquals(fd, g, 2e-2 * Math.abs(g) + 1e-3 * maxGrad, e.what);
            }
            assertTrue(checked >= 6, "too few entries without routing changes: " + checked);
        }
    }

    @Test
    void singleExpertAtModelBaseIsVanillaAndHasNoRouterGradient() {
        Path fixture = RESOURCES.resolve("moice").resolve("llama-gqa");
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(modelDir(fixture))) {
            var c = m.config();
            Routers one = Routers.random(new double[]{c.ropeTheta()}, 1, c.headDim(), c.numLayers(), 0.5, 3);
            ModelObjective objective = new ModelObjective(m.model());
            RouterGradients grads = RouterGradients.zerosLike(one);
            RouterObjective.Loss moice = objective.evaluate(ids, null, one, 0.3, grads, 1f);
            RouterObjective.Loss vanilla = objective.evaluate(ids, null, null, 0.3, null, 1f);
            // one expert at the model's base is vanilla attention by another kernel: rounding only; its weight is
            // exactly 1 whatever the router says, so the router gets no gradient at all
            assertEquals(vanilla.ce(), moice.ce(), Bounds.forwardPass(c, ids.length) * vanilla.ce());
            assertEquals(1.0, moice.aux(), 0);
            assertEquals(0.0, grads.norm(), 0);
        }
    }

    @Test
    void targetMaskRestrictsTheLossAndScaleScalesTheGradient() {
        Path fixture = RESOURCES.resolve("moice").resolve("llama-gqa");
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(modelDir(fixture))) {
            Routers routers = RouterFile.read(fixture.resolve("routers.safetensors"));
            ModelObjective objective = new ModelObjective(m.model());
            boolean[] targets = new boolean[ids.length];
            for (int t = ids.length / 2; t < ids.length; t++) targets[t] = true;
            RouterGradients a = RouterGradients.zerosLike(routers), b = RouterGradients.zerosLike(routers);
            RouterObjective.Loss masked = objective.evaluate(ids, targets, routers, 0.0, a, 1f);
            objective.evaluate(ids, targets, routers, 0.0, b, 0.25f);
            assertEquals(ids.length - ids.length / 2, masked.targetCount());
            for (int l = 0; l < routers.numLayers(); l++)
                for (int i = 0; i < a.gate1()[l].length; i++)
                    assertEquals(0.25f * a.gate1()[l][i], b.gate1()[l][i], 0f); // a power of two scales exactly
            RouterGradients again = RouterGradients.zerosLike(routers);
            objective.evaluate(ids, targets, routers, 0.0, again, 1f);
            for (int l = 0; l < routers.numLayers(); l++) assertArrayEquals(a.gate2()[l], again.gate2()[l]);
        }
    }

    @Test
    void keepingActivationsAndRecomputingThemGiveTheSameResult() {
        Path fixture = RESOURCES.resolve("moice").resolve("qwen2-bias-tied");
        int[] ids = TokenIds.read(fixture.resolve("tokens.json"));
        try (LoadedModel m = LoadedModel.open(modelDir(fixture))) {
            Routers routers = RouterFile.read(fixture.resolve("routers.safetensors"));
            RouterGradients kept = RouterGradients.zerosLike(routers), recomputed = RouterGradients.zerosLike(routers);
            var a = new ModelObjective(m.model()).keepActivations(true).evaluate(ids, null, routers, 0.3, kept, 1f);
            var b = new ModelObjective(m.model()).keepActivations(false).evaluate(ids, null, routers, 0.3, recomputed, 1f);
            assertEquals(a, b);
            for (int l = 0; l < routers.numLayers(); l++) {
                assertArrayEquals(kept.gate1()[l], recomputed.gate1()[l]);
                assertArrayEquals(kept.gate2()[l], recomputed.gate2()[l]);
                assertArrayEquals(kept.gate3()[l], recomputed.gate3()[l]);
            }
        }
    }
}
