package moice.model;

import moice.cli.Main;
import moice.io.SafeTensors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice forward} on every reference checkpoint matches the logits HF transformers computed for it
 * (scripts/reference/make_model_fixtures.py): max |Δ| / max |ref| ≤ 1e-4 over all positions.
 */
class HfLogitsTest {
    static final Path MODELS = Path.of("src/test/resources/models");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "qwen2-bias-tied", "llama3-rope", "llama-linear-rope",
            "llama-dynamic-rope", "llama-yarn-rope", "llama-bias", "llama-bf16-sharded", "llama-f16"})
    void forwardMatchesTransformers(String name) {
        Path dir = MODELS.resolve(name);
        Path out = tmp.resolve("logits.safetensors");
        int rc = Main.run("forward", "--model", dir.toString(), "--tokens", dir.resolve("tokens.json").toString(),
                "--out", out.toString());
        assertEquals(0, rc);
        float[] expected = read(dir.resolve("logits.safetensors"));
        float[] actual = read(out);
        assertEquals(expected.length, actual.length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
        }
        double rel = maxDiff / maxRef;
        System.out.printf("%s: max|Δ|/max|ref| = %.2e%n", name, rel);
        assertTrue(rel <= 1e-4, name + ": relative max error " + rel);
    }

    static float[] read(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] shape = st.shape("logits");
            return st.matrix("logits", (int) shape[0], (int) shape[1]).toFloats();
        }
    }
}
