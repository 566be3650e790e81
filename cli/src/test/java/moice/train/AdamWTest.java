package moice.train;

import moice.Bounds;
import moice.attention.Routers;
import moice.io.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link AdamW} against torch.optim.AdamW (fixture from scripts/reference/make_adamw_fixture.py) and the formula. */
class AdamWTest {

    /** One router layer with N = 2, d = 2: 4 + 4 + 4 = 12 weights, in the order gate_1, gate_2, gate_3. */
    static Routers routers(float[] w) {
        return new Routers(new double[]{1e4, 2e4}, 2, 2, new float[][]{slice(w, 0)}, new float[][]{slice(w, 4)},
                new float[][]{slice(w, 8)});
    }

    static RouterGradients grads(float[] g) {
        return new RouterGradients(new float[][]{slice(g, 0)}, new float[][]{slice(g, 4)}, new float[][]{slice(g, 8)});
    }

    static float[] slice(float[] a, int from) {
        return java.util.Arrays.copyOfRange(a, from, from + 4);
    }

    static float[] flat(float[][] g1, float[][] g2, float[][] g3) {
        float[] out = new float[12];
        System.arraycopy(g1[0], 0, out, 0, 4);
        System.arraycopy(g2[0], 0, out, 4, 4);
        System.arraycopy(g3[0], 0, out, 8, 4);
        return out;
    }

    static float[] floats(Object json) {
        List<Object> list = Json.array(json, "values");
        float[] a = new float[list.size()];
        for (int i = 0; i < a.length; i++) a[i] = (float) Json.number(list.get(i), "value");
        return a;
    }

    @Test
    void matchesTorchOverThreeSteps() {
        Map<String, Object> fixture = Json.object(Json.parseFile(Path.of("src/test/resources/train/adamw.json")), "fixture");
        List<Object> cases = Json.array(fixture.get("cases"), "cases");
        assertEquals(2, cases.size());
        for (Object c : cases) {
            Map<String, Object> k = Json.object(c, "case");
            String name = (String) k.get("name");
            List<Object> lrs = Json.array(k.get("lrs"), "lrs");
            double peak = Json.number(lrs.get(lrs.size() - 1), "lr");
            // the fixture's schedule is lr·t/3 for the warm-up case, constant otherwise
            int warmup = Json.number(lrs.get(0), "lr") < peak ? 3 : 0;
            AdamW.Settings s = new AdamW.Settings(peak, 0.9, 0.999, 1e-8, Json.number(k.get("weight_decay"), "wd"), warmup);
            Routers r = routers(floats(k.get("init")));
            AdamW adam = new AdamW(s, r);
            for (int step = 0; step < 3; step++) {
                double lr = adam.step(r, grads(floats(Json.array(k.get("grads"), "g").get(step))));
                assertEquals(Json.number(lrs.get(step), "lr"), lr, 1e-15, name + " lr of step " + (step + 1));
                float[] want = floats(Json.array(k.get("params"), "p").get(step));
                float[] wantM = floats(Json.array(k.get("m"), "m").get(step));
                float[] wantV = floats(Json.array(k.get("v"), "v").get(step));
                float[] got = flat(r.gate1(), r.gate2(), r.gate3());
                RouterGradients m = adam.firstMoments(), v = adam.secondMoments();
                float[] gotM = flat(m.gate1(), m.gate2(), m.gate3()), gotV = flat(v.gate1(), v.gate2(), v.gate3());
                int t = step + 1;
                for (int i = 0; i < 12; i++) {
                    String at = name + ", step " + t + ", weight " + i;
                    // torch rounds every one of its float32 operations, we once per element from double. Moments:
                    // each step's b·m + (1 − b)·g (or g²) costs ≤ 3u of its terms' size, and the earlier steps' errors
                    // carry over, so ≤ 3u·t·max(|m|, |g|) (v the same with g²). The weight: ≤ 2u of |w| per step,
                    // plus the update lr·m̂/(√v̂ + ε) with ≤ 12u relative (bias corrections, sqrt, sum, division)
                    // and whatever the moments' errors move it by, bounded by the same 12u·t·lr·|m̂/√v̂|, where
                    // |m̂/√v̂| ≤ (1 − b1)/√(1 − b2) when 1 − b1 > √(1 − b2) (Kingma & Ba 2015, §2.1).
                    double g = Math.abs(floats(Json.array(k.get("grads"), "g").get(step))[i]);
                    double tolM = 3 * t * Bounds.U * Math.max(Math.abs(wantM[i]), g);
                    double tolV = 3 * t * Bounds.U * Math.max(Math.abs(wantV[i]), g * g);
                    double stepMax = lr * (1 - 0.9) / Math.sqrt(1 - 0.999);
                    double tolW = 2 * t * Bounds.U * Math.abs(want[i]) + 12 * t * Bounds.U * stepMax;
                    assertEquals(want[i], got[i], tolW, at);
                    assertEquals(wantM[i], gotM[i], tolM, at + " (m)");
                    assertEquals(wantV[i], gotV[i], tolV, at + " (v)");
                }
            }
            assertEquals(3, adam.stepsTaken());
        }
    }

    /** Two steps worked out from the formula in double, independently of the implementation's loop. */
    @Test
    void matchesTheFormulaByHand() {
        float[] w0 = new float[12], g1 = new float[12], g2 = new float[12];
        for (int i = 0; i < 12; i++) {
            w0[i] = 0.01f * (i - 5);
            g1[i] = 0.3f * (i % 3 - 1) + 0.05f;
            g2[i] = -0.2f * (i % 4) + 0.1f;
        }
        double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
        Routers r = routers(w0.clone());
        AdamW adam = new AdamW(new AdamW.Settings(lr, b1, b2, eps, wd, 0), r);
        adam.step(r, grads(g1));
        adam.step(r, grads(g2));
        float[] got = flat(r.gate1(), r.gate2(), r.gate3());
        for (int i = 0; i < 12; i++) {
            // step 1: m = (1-b1) g1, v = (1-b2) g1², m̂ = g1, v̂ = g1²
            double w = w0[i] * (1 - lr * wd) - lr * g1[i] / (Math.abs(g1[i]) + eps);
            double m = (1 - b1) * g1[i], v = (1 - b2) * g1[i] * g1[i];
            m = b1 * m + (1 - b1) * g2[i];
            v = b2 * v + (1 - b2) * (double) g2[i] * g2[i];
            w = w * (1 - lr * wd) - lr * (m / (1 - b1 * b1)) / (Math.sqrt(v / (1 - b2 * b2)) + eps);
            // one float rounding of the result plus double-precision noise: half an ulp of the weight and the step
            assertEquals(w, got[i], Math.ulp((float) w) + 4 * Math.ulp(lr), "weight " + i);
        }
    }

    @Test
    void warmupIsLinearFromTheFirstStep() {
        AdamW.Settings s = new AdamW.Settings(1e-4, 0.9, 0.999, 1e-8, 0, 4);
        assertEquals(0.25e-4, s.learningRate(1), 1e-18);
        assertEquals(0.75e-4, s.learningRate(3), 1e-18);
        assertEquals(1e-4, s.learningRate(4), 0);
        assertEquals(1e-4, s.learningRate(100), 0);
        assertEquals(1e-4, AdamW.Settings.of(1e-4).learningRate(1), 0);
    }
}
