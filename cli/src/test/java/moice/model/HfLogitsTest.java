package moice.model;

import moice.io.TokenIds;
import moice.io.HfConfig;
import moice.Bounds;
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
 * (scripts/reference/make_model_fixtures.py): max |Δ| / max |ref| over all positions within
 * {@link Bounds#forwardPass}.
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
        Bounds.assertWithin(expected, actual,
                Bounds.forwardPass(HfConfig.load(dir.resolve("config.json")), TokenIds.read(dir.resolve("tokens.json")).length), name);
    }

    static float[] read(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] shape = st.shape("logits");
            return st.matrix("logits", (int) shape[0], (int) shape[1]).toFloats();
        }
    }
}
