package moice.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static moice.io.SafeTensorsTest.assertError;
import static org.junit.jupiter.api.Assertions.*;

class ModelDirTest {
    @TempDir
    Path dir;

    @Test
    void findsConfigWeightsAndTokenizerFiles() throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "vocab_size": 8, "hidden_size": 4,
                 "intermediate_size": 6, "num_hidden_layers": 1, "num_attention_heads": 2}""");
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        new SafeTensorsWriter().addF32("model.norm.weight", new float[]{1, 1, 1, 1}, 4)
                .write(dir.resolve("model.safetensors"));
        ModelDir m = ModelDir.of(dir);
        assertEquals(dir.resolve("config.json"), m.configJson());
        assertEquals(Optional.of(dir.resolve("tokenizer.json")), m.tokenizerJson());
        assertEquals(Optional.empty(), m.tokenizerConfigJson());
        assertEquals(4, m.loadConfig().hiddenSize());
        try (TensorSource t = m.openTensors()) {
            assertArrayEquals(new float[]{1, 1, 1, 1}, t.matrix("model.norm.weight", 1, 4).toFloats());
        }
    }

    @Test
    void errors() throws IOException {
        assertError(() -> ModelDir.of(dir.resolve("missing")), "missing: no such file or directory");
        assertError(() -> ModelDir.of(dir), dir + ": no config.json");
        Path gguf = Files.writeString(dir.resolve("m.gguf"), "GGUF");
        assertError(() -> ModelDir.of(gguf), "m.gguf", "GGUF");
        assertTrue(ModelDir.isGguf(gguf));
        Path other = Files.writeString(dir.resolve("notes.txt"), "x");
        assertError(() -> ModelDir.of(other), "notes.txt", "not a model directory");
    }
}
