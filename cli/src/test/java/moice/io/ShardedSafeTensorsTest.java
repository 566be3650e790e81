package moice.io;

import moice.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import static moice.io.SafeTensorsTest.assertError;
import static org.junit.jupiter.api.Assertions.*;

class ShardedSafeTensorsTest {
    @TempDir
    Path dir;

    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    /** Two shards: embed + layer 0 in the first, layer 1 + norm in the second. */
    private void writeShards() {
        new SafeTensorsWriter().metadata("format", "pt")
                .addF32("model.embed_tokens.weight", new float[]{1, 2, 3, 4, 5, 6}, 3, 2)
                .addF32("model.layers.0.mlp.down_proj.weight", new float[]{7, 8}, 1, 2)
                .write(dir.resolve(SHARD1));
        new SafeTensorsWriter().metadata("format", "pt")
                .addEncoded("model.layers.1.mlp.down_proj.weight", DType.BF16, StFiles.bf16(9, 10), 1, 2)
                .addF32("model.norm.weight", new float[]{11, 12}, 2)
                .write(dir.resolve(SHARD2));
    }

    private Path writeIndex(String weightMapJson) throws IOException {
        Path index = dir.resolve(TensorSource.SHARD_INDEX);
        Files.writeString(index, "{\"metadata\": {\"total_size\": 36}, \"weight_map\": " + weightMapJson + "}");
        return index;
    }

    private static final String FULL_MAP = "{"
            + "\"model.embed_tokens.weight\": \"" + SHARD1 + "\","
            + "\"model.layers.0.mlp.down_proj.weight\": \"" + SHARD1 + "\","
            + "\"model.layers.1.mlp.down_proj.weight\": \"" + SHARD2 + "\","
            + "\"model.norm.weight\": \"" + SHARD2 + "\"}";

    @Test
    void readsTensorsAcrossShards() throws IOException {
        writeShards();
        writeIndex(FULL_MAP);
        try (TensorSource src = TensorSource.open(dir)) {
            assertInstanceOf(ShardedSafeTensors.class, src);
            assertEquals(2, ((ShardedSafeTensors) src).shardCount());
            assertEquals(Set.of("model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight",
                    "model.layers.1.mlp.down_proj.weight", "model.norm.weight"), src.names());
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, src.matrix("model.embed_tokens.weight", 3, 2).toFloats());
            assertArrayEquals(new float[]{9, 10}, src.matrix("model.layers.1.mlp.down_proj.weight", 1, 2).toFloats());
            assertEquals(DType.BF16, src.dtype("model.layers.1.mlp.down_proj.weight"));
            assertArrayEquals(new long[]{2}, src.shape("model.norm.weight"));
            assertEquals(dir.resolve(SHARD2).toString(), src.describe("model.norm.weight"));
            assertEquals(Map.of("total_size", "36"), src.metadata());
            assertError(() -> src.matrix("model.norm.weight", 1, 3), dir.resolve(SHARD2).toString(),
                    "tensor 'model.norm.weight' has shape [2]; config.json implies [3]");
            assertError(() -> src.matrix("lm_head.weight", 3, 2), dir + ": tensor 'lm_head.weight' not found");
        }
    }

    @Test
    void missingShard() throws IOException {
        writeShards();
        Files.delete(dir.resolve(SHARD2));
        Path index = writeIndex(FULL_MAP);
        assertError(() -> TensorSource.open(dir), index + ": shard '" + SHARD2
                + "' (holding 'model.layers.1.mlp.down_proj.weight' and 1 more) not found");
    }

    @Test
    void tensorMissingFromItsShard() throws IOException {
        writeShards();
        // the map claims the norm lives in shard 1
        Path index = writeIndex(FULL_MAP.replace("\"model.norm.weight\": \"" + SHARD2, "\"model.norm.weight\": \"" + SHARD1));
        assertError(() -> TensorSource.open(dir), index.toString(), "'weight_map'", "tensor 'model.norm.weight'",
                SHARD1, "has no such tensor");
    }

    @Test
    void badIndexFiles() throws IOException {
        writeShards();
        Path index = dir.resolve(TensorSource.SHARD_INDEX);
        Files.writeString(index, "{\"metadata\": {}}");
        assertError(() -> TensorSource.open(dir), index.toString(), "missing 'weight_map'");
        Files.writeString(index, "{\"weight_map\": {\"a\": 3}}");
        assertError(() -> TensorSource.open(dir), index.toString(), "'weight_map'.'a'", "string");
        Files.writeString(index, "{\"weight_map\": {\"a\": \"../elsewhere.safetensors\"}}");
        assertError(() -> TensorSource.open(dir), index.toString(), "'weight_map'.'a'", "plain file name");
        Files.writeString(index, "{\"weight_map\": {\"a\": ");
        assertError(() -> TensorSource.open(dir), index.toString(), "malformed JSON");
    }

    @Test
    void corruptShardIsReportedWithItsOwnName() throws IOException {
        writeShards();
        writeIndex(FULL_MAP);
        Files.write(dir.resolve(SHARD2), new byte[]{1, 2});
        assertError(() -> TensorSource.open(dir), dir.resolve(SHARD2).toString(), "truncated");
    }

    @Test
    void directoryWithOneFileOpensIt() throws IOException {
        new SafeTensorsWriter().addF32("w", new float[]{1}, 1).write(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), "{}");
        try (TensorSource src = TensorSource.open(dir)) {
            assertInstanceOf(SafeTensors.class, src);
            assertTrue(src.has("w"));
        }
        try (TensorSource src = TensorSource.open(dir.resolve("model.safetensors"))) {
            assertTrue(src.has("w"));
        }
    }

    @Test
    void directoryWithoutWeightsOrWithSeveralFiles() {
        assertError(() -> TensorSource.open(dir), dir.toString(), "no *.safetensors");
        new SafeTensorsWriter().write(dir.resolve("a.safetensors"));
        new SafeTensorsWriter().write(dir.resolve("b.safetensors"));
        assertError(() -> TensorSource.open(dir), dir.toString(), "several", "a.safetensors", "b.safetensors",
                TensorSource.SHARD_INDEX);
        assertError(() -> TensorSource.open(dir.resolve("nothing")), "nothing: no such file or directory");
    }
}
