package moice.train;

import moice.Bounds;
import moice.cli.Main;
import moice.io.Json;
import moice.io.RouterFile;
import moice.io.SafeTensors;
import moice.attention.Routers;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Router gradients against float64 PyTorch autograd of the independent reference implementation
 * ({@code scripts/reference/moice_grad_reference.py}, fixtures in {@code src/test/resources/moice-grad}): through
 * {@code bin/moice grad} for the whole-sequence loss, through the API for the target-mask cases. Tolerance: max |Δ|
 * over a gate tensor ≤ 1e-3 · max |reference| of that tensor; loss parts to 1e-5 relative.
 */
class GradFixtureTest {
    static final Path RESOURCES = Path.of("src/test/resources");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa-ce", "llama-gqa-aux", "llama-gqa-aux-half", "llama-gqa-k7-ce", "llama-gqa-k7-aux",
            "llama-gqa-k7-aux-half", "qwen2-bias-tied-ce", "qwen2-bias-tied-aux", "qwen2-bias-tied-aux-half",
            "mistral-mqa-ce", "mistral-mqa-aux", "mistral-mqa-aux-half"})
    void gradientsMatchPyTorchAutograd(String name) {
        Path fixture = RESOURCES.resolve("moice-grad").resolve(name);
        Map<String, Object> ref = Json.object(Json.parseFile(fixture.resolve("loss.json")), "loss.json");
        Path model = RESOURCES.resolve(Json.string(ref.get("model"), "model"));
        Path tokens = RESOURCES.resolve(Json.string(ref.get("tokens"), "tokens"));
        Path routersFile = RESOURCES.resolve(Json.string(ref.get("routers"), "routers"));
        double auxCoef = Json.number(ref.get("aux_coef"), "aux_coef");
        Routers routers = RouterFile.read(routersFile);
        Routers actual;
        double ce, aux;
        if (ref.get("targets") == null) {
            Path out = tmp.resolve("grads.safetensors");
            int rc = Main.run("grad", "--model", model.toString(), "--moice", routersFile.toString(),
                    "--tokens", tokens.toString(), "--aux-coef", Double.toString(auxCoef), "--out", out.toString());
            assertEquals(0, rc);
            actual = RouterFile.read(out);
            try (SafeTensors st = SafeTensors.open(out)) {
                ce = Double.parseDouble(st.metadata().get("moice.ce"));
                aux = Double.parseDouble(st.metadata().get("moice.aux"));
            }
        } else {
            List<Object> flags = Json.array(ref.get("targets"), "targets");
            boolean[] targets = new boolean[flags.size()];
            for (int i = 0; i < targets.length; i++) targets[i] = Json.bool(flags.get(i), "targets");
            try (var m = moice.load.LoadedModel.open(model)) {
                RouterGradients g = RouterGradients.zerosLike(routers);
                var loss = new ModelObjective(m.model()).evaluate(moice.io.TokenIds.read(tokens), targets, routers,
                        auxCoef, g, 1f);
                ce = loss.ce();
                aux = loss.aux();
                actual = new Routers(routers.bases(), routers.topK(), routers.headDim(), g.gate1(), g.gate2(), g.gate3());
            }
        }
        // the loss parts are outputs of the float32 forward pass (the reference is float64): the forward-pass bound
        // relative to their size; the gradients come from the backward pass, which runs the same stages transposed,
        // so twice that
        double bound = Bounds.forwardPass(model, tokens);
        assertEquals(Json.number(ref.get("ce"), "ce"), ce, bound * Math.abs(ce), name + " ce");
        assertEquals(Json.number(ref.get("aux"), "aux"), aux, bound * Math.abs(aux), name + " aux");
        double worst = 0;
        try (SafeTensors expected = SafeTensors.open(fixture.resolve("grads.safetensors"))) {
            for (int l = 0; l < routers.numLayers(); l++) {
                float[][] got = {actual.gate1()[l], actual.gate2()[l], actual.gate3()[l]};
                for (int which = 1; which <= 3; which++) {
                    String tensor = Routers.tensorName(l, which);
                    long[] shape = expected.shape(tensor);
                    float[] want = expected.matrix(tensor, (int) shape[0], (int) shape[1]).toFloats();
                    double maxDiff = 0, maxRef = 0;
                    for (int i = 0; i < want.length; i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[which - 1][i]));
                        maxRef = Math.max(maxRef, Math.abs(want[i]));
                    }
                    double rel = maxDiff / maxRef;
                    worst = Math.max(worst, rel);
                    assertTrue(rel <= 2 * bound, name + " " + tensor + ": max|Δ|/max|ref| = " + rel + " above " + 2 * bound);
                }
            }
        }
        System.out.printf("grad %s: worst gate tensor max|Δ|/max|ref| = %.2e (bound %.2e)%n", name, worst, 2 * bound);
        assertTrue(Files.exists(fixture.resolve("grads.safetensors")));
    }
}
