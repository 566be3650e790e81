package moice.io.gguf;

import moice.MoiceException;
import moice.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Reads the fixtures written by {@code scripts/reference/make_gguf_fixtures.py} (gguf Python package) and compares
 * metadata, tensor table and dequantised values with what that package wrote and computed.
 */
class GgufFixtureTest {
    private static GgufFile allTypes;

    static Path resource(String name) {
        try {
            return Path.of(GgufFixtureTest.class.getResource("/gguf/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Object> manifest(String fixture) {
        return Json.object(Json.parseFile(resource(fixture + ".expected.json")), fixture);
    }

    @BeforeAll
    static void openAllTypes() {
        allTypes = GgufFile.open(resource("all_types_v3.gguf"));
    }

    @AfterAll
    static void closeAllTypes() {
        allTypes.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"all_types_v3", "small_v2", "q5_v3"})
    void headerAndMetadataMatchTheWriter(String fixture) {
        Map<String, Object> m = manifest(fixture);
        try (GgufFile f = GgufFile.open(resource(fixture + ".gguf"))) {
            assertEquals(Json.integer(m.get("version"), "version"), f.version());
            assertEquals(Json.integer(m.get("alignment"), "alignment"), f.alignment());
            assertEquals(Json.integer(m.get("data_start"), "data_start"), f.dataStart());
            List<String> expectedKeys = new ArrayList<>();
            for (Object o : Json.array(m.get("metadata"), "metadata")) {
                Map<String, Object> e = Json.object(o, "entry");
                String key = Json.string(e.get("key"), "key");
                expectedKeys.add(key);
                String type = Json.string(e.get("type"), key);
                assertEquals(type, f.metadata().type(key).orElseThrow().specName(), key);
                if (type.equals("array")) assertArrayMatches(f.metadata().array(key), Json.object(e.get("value"), key), key);
                else assertScalarMatches(f.metadata(), key, type, e.get("value"));
            }
            assertEquals(expectedKeys, List.copyOf(f.metadata().keys()), "keys in file order");
        }
    }

    private static void assertScalarMatches(GgufMetadata md, String key, String type, Object expected) {
        switch (type) {
            case "uint8", "int8", "uint16", "int16", "uint32", "int32" -> assertEquals(Json.integer(expected, key), md.integer(key), key);
            case "uint64" -> assertEquals(expected, Long.toUnsignedString((Long) md.value(key)), key);
            case "int64" -> assertEquals(expected, Long.toString(md.integer(key)), key);
            case "float32" -> {
                assertEquals(Float.class, md.value(key).getClass(), key);
                assertEquals((float) Json.number(expected, key), (float) md.floatValue(key), 0f, key);
            }
            case "float64" -> assertEquals(Json.number(expected, key), md.floatValue(key), 0.0, key);
            case "bool" -> assertEquals(Json.bool(expected, key), md.bool(key), key);
            case "string" -> assertEquals(expected, md.string(key), key);
            default -> fail("unexpected type " + type);
        }
    }

    private static void assertArrayMatches(GgufArray actual, Map<String, Object> expected, String where) {
        String elementType = Json.string(expected.get("element_type"), where);
        List<Object> values = Json.array(expected.get("values"), where);
        assertEquals(elementType, actual.elementType().specName(), where);
        assertEquals(values.size(), actual.size(), where);
        switch (elementType) {
            case "uint64", "int64" -> {
                long[] a = actual.longs();
                for (int i = 0; i < a.length; i++)
                    assertEquals(values.get(i), elementType.equals("uint64") ? Long.toUnsignedString(a[i]) : Long.toString(a[i]), where + "[" + i + "]");
            }
            case "uint8", "int8", "uint16", "int16", "uint32", "int32" -> {
                long[] a = actual.longs();
                for (int i = 0; i < a.length; i++) assertEquals(Json.integer(values.get(i), where), a[i], where + "[" + i + "]");
            }
            case "float32" -> {
                float[] a = actual.floats();
                for (int i = 0; i < a.length; i++) assertEquals((float) Json.number(values.get(i), where), a[i], 0f, where + "[" + i + "]");
            }
            case "float64" -> {
                double[] a = actual.doubles();
                for (int i = 0; i < a.length; i++) assertEquals(Json.number(values.get(i), where), a[i], 0.0, where + "[" + i + "]");
            }
            case "bool" -> {
                boolean[] a = actual.booleans();
                for (int i = 0; i < a.length; i++) assertEquals(Json.bool(values.get(i), where), a[i], where + "[" + i + "]");
            }
            case "string" -> assertEquals(values, List.of(actual.strings()), where);
            case "array" -> {
                List<GgufArray> nested = actual.arrays();
                for (int i = 0; i < nested.size(); i++)
                    assertArrayMatches(nested.get(i), Json.object(values.get(i), where), where + "[" + i + "]");
            }
            default -> fail("unexpected element type " + elementType);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"all_types_v3", "small_v2", "q5_v3"})
    void tensorTableAndDequantisedValuesMatchTheReference(String fixture) throws IOException {
        Map<String, Object> m = manifest(fixture);
        float[] expected = floats(resource(fixture + ".expected.f32"));
        try (GgufFile f = GgufFile.open(resource(fixture + ".gguf"))) {
            List<Object> table = Json.array(m.get("tensors"), "tensors");
            assertEquals(table.size(), f.tensors().size());
            for (int i = 0; i < table.size(); i++) {
                Map<String, Object> e = Json.object(table.get(i), "tensor");
                String name = Json.string(e.get("name"), "name");
                GgufTensor t = f.tensors().get(i);
                assertEquals(name, t.name(), "tensor order");
                assertEquals(t, f.tensor(name));
                assertEquals(Json.string(e.get("type"), name), t.type().name(), name);
                assertEquals(Json.integer(e.get("type_id"), name), t.type().id, name);
                long[] dims = Json.array(e.get("dims"), name).stream().mapToLong(d -> Json.integer(d, name)).toArray();
                assertArrayEquals(dims, t.dims(), name);
                assertEquals(Json.integer(e.get("data_offset"), name), t.dataOffset(), name);
                assertEquals(Json.integer(e.get("file_offset"), name), t.fileOffset(), name);
                assertEquals(0, t.fileOffset() % f.alignment(), name);
                long count = Json.integer(e.get("count"), name);
                assertEquals(count, t.elementCount(), name);
                assertEquals(t.rowCount() * t.rowBytes(), t.byteSize(), name);
                if (!t.type().dequantSupported()) continue;
                int first = (int) Json.integer(e.get("first_value"), name);
                float[] actual = t.toFloats();
                assertUlpEqual(Arrays.copyOfRange(expected, first, first + (int) count), actual, name);
                // Row by row into an offset destination: the same values.
                float[] row = new float[(int) t.rowLength() + 3];
                for (long r = 0; r < t.rowCount(); r++) {
                    t.dequantizeRow(r, row, 3);
                    int at = first + (int) (r * t.rowLength());
                    assertUlpEqual(Arrays.copyOfRange(expected, at, at + (int) t.rowLength()),
                            Arrays.copyOfRange(row, 3, row.length), name + " row " + r);
                }
            }
        }
    }

    /** At most one ulp apart (NaNs equal to NaNs); the scalar reference is in fact bit-exact. */
    static void assertUlpEqual(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        int exact = 0;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.floatToIntBits(e) == Float.floatToIntBits(a)) {
                exact++;
                continue;
            }
            if (Float.isNaN(e) || Float.isNaN(a) || Math.abs(e - a) > Math.ulp(e))
                fail(what + "[" + i + "]: expected " + e + ", found " + a);
        }
        assertEquals(expected.length, exact, what + ": values within 1 ulp but not bit-identical");
    }

    static float[] floats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    @Test
    void fixturesCoverEverySupportedTypeWithRealValues() {
        try (GgufFile q5 = GgufFile.open(resource("q5_v3.gguf"))) {
            List<GgufTensor> tensors = new ArrayList<>(allTypes.tensors());
            tensors.addAll(q5.tensors());
            assertCoverage(tensors);
        }
    }

    private static void assertCoverage(List<GgufTensor> tensors) {
        List<GgufType> covered = tensors.stream().map(GgufTensor::type).distinct().toList();
        for (GgufType t : GgufType.values())
            if (t.dequantSupported()) assertTrue(covered.contains(t), t + " has no fixture tensor");
        // Edge cases reach the output: exact zeros and large magnitudes in every quantised type.
        for (GgufTensor t : tensors) {
            if (!t.type().dequantSupported()) continue;
            float[] v = t.toFloats();
            float max = 0;
            boolean zero = false;
            for (float x : v) {
                max = Math.max(max, Math.abs(x));
                zero |= x == 0f;
            }
            assertTrue(zero, t + " has no zero");
            assertTrue(max > 1000, t + " has no large magnitude (max " + max + ")");
        }
    }

    @Test
    void typeTableAgreesWithThePythonPackage() {
        Map<String, Object> table = Json.object(manifest("all_types_v3").get("type_table"), "type_table");
        assertEquals(table.keySet(), Arrays.stream(GgufType.values()).map(Enum::name).collect(java.util.stream.Collectors.toSet()));
        for (Map.Entry<String, Object> e : table.entrySet()) {
            List<Object> row = Json.array(e.getValue(), e.getKey());
            GgufType t = GgufType.valueOf(e.getKey());
            assertEquals(Json.integer(row.get(0), t.name()), t.id, t + " id");
            assertEquals(Json.integer(row.get(1), t.name()), t.blockSize, t + " block size");
            // ggml's block_q8_1 holds two f16 (36 bytes); the Python table still has the old f32 layout (40).
            long pythonBytes = Json.integer(row.get(2), t.name());
            assertEquals(t == GgufType.Q8_1 ? 36 : pythonBytes, t.blockBytes, t + " block bytes");
            assertEquals(t, GgufType.fromId(t.id).orElseThrow());
        }
        for (int removed : new int[] {4, 5, 31, 32, 33, 36, 37, 38, 42, -1, 1 << 20})
            assertTrue(GgufType.fromId(removed).isEmpty(), "id " + removed);
    }

    @Test
    void llamaAndTokenizerKeysReadWithTypedGetters() {
        GgufMetadata md = allTypes.metadata();
        assertEquals("llama", md.string("general.architecture"));
        assertEquals(8192, md.intValue("llama.context_length"));
        assertEquals(576, md.intValue("llama.embedding_length"));
        assertEquals(30, md.intValue("llama.block_count"));
        assertEquals(1536, md.intValue("llama.feed_forward_length"));
        assertEquals(9, md.intValue("llama.attention.head_count"));
        assertEquals(3, md.intValue("llama.attention.head_count_kv"));
        assertEquals(100000.0, md.floatValue("llama.rope.freq_base"));
        assertEquals(1e-5f, (float) md.floatValue("llama.attention.layer_norm_rms_epsilon"));
        assertEquals(64, md.intValue("llama.rope.dimension_count"));
        assertEquals(300, md.intValue("llama.vocab_size"));
        assertEquals("gpt2", md.string("tokenizer.ggml.model"));
        assertEquals("smollm", md.string("tokenizer.ggml.pre"));
        String[] tokens = md.stringArray("tokenizer.ggml.tokens");
        assertEquals(300, tokens.length);
        assertEquals("<|im_end|>", tokens[2]);
        assertEquals(300, md.floatArray("tokenizer.ggml.scores").length);
        assertEquals(-1.5f, md.floatArray("tokenizer.ggml.scores")[3]);
        assertEquals(3, md.intArray("tokenizer.ggml.token_type")[0]);
        assertEquals("Ġt he", md.stringArray("tokenizer.ggml.merges")[4]);
        assertEquals(1, md.intValue("tokenizer.ggml.bos_token_id"));
        assertEquals(2, md.intValue("tokenizer.ggml.eos_token_id"));
        assertFalse(md.bool("tokenizer.ggml.add_bos_token"));
        assertFalse(md.bool("tokenizer.ggml.add_eos_token"));
        assertTrue(md.string("tokenizer.chat_template").startsWith("{% for message in messages %}"));
        assertTrue(md.optString("tokenizer.ggml.padding_token_id").isEmpty());
        assertTrue(md.optInteger("llama.expert_count").isEmpty());
    }

    @Test
    void modelParamsAndTokenizerRecords() {
        GgufModelParams p = GgufModelParams.read(allTypes.metadata());
        assertEquals(new GgufModelParams("llama", 8192, 576, 30, 1536, 9, java.util.OptionalInt.of(3),
                java.util.OptionalDouble.of(100000.0), (double) 1e-5f, java.util.OptionalInt.of(64),
                java.util.OptionalInt.of(300)), p);
        GgufTokenizerData t = GgufTokenizerData.read(allTypes);
        assertEquals("gpt2", t.model());
        assertEquals("smollm", t.pre().orElseThrow());
        assertArrayEquals(allTypes.metadata().stringArray("tokenizer.ggml.tokens"), t.tokens());
        assertEquals(300, t.scores().orElseThrow().length);
        assertEquals(300, t.tokenTypes().orElseThrow().length);
        assertEquals(5, t.merges().orElseThrow().length);
        assertEquals(1, t.bosTokenId().orElseThrow());
        assertEquals(2, t.eosTokenId().orElseThrow());
        assertTrue(t.unknownTokenId().isEmpty());
        assertEquals(false, t.addBosToken().orElseThrow());
        assertTrue(t.chatTemplate().orElseThrow().contains("<|im_start|>"));
        // small_v2 has no tokenizer and only some llama keys: the errors name what is missing.
        try (GgufFile f = GgufFile.open(resource("small_v2.gguf"))) {
            assertMessage(() -> GgufModelParams.read(f.metadata()), "small_v2.gguf", "llama.context_length", "is missing");
            assertMessage(() -> GgufTokenizerData.read(f), "small_v2.gguf", "tokenizer.ggml.tokens", "is missing");
        }
    }

    @Test
    void typedGettersNameTheKeyAndTheExpectedType() {
        GgufMetadata md = allTypes.metadata();
        assertMessage(() -> md.string("test.uint8"), "test.uint8", "expected a string, found uint8");
        assertMessage(() -> md.integer("test.string"), "test.string", "expected an integer, found string");
        assertMessage(() -> md.floatValue("test.int32"), "test.int32", "expected a float, found int32");
        assertMessage(() -> md.bool("test.float64"), "test.float64", "expected a bool");
        assertMessage(() -> md.stringArray("test.string"), "test.string", "expected an array, found string");
        assertMessage(() -> md.stringArray("test.array.int32"), "test.array.int32", "expected an array of strings, found an array of int32");
        assertMessage(() -> md.intArray("test.array.string"), "test.array.string", "expected an array of integers");
        assertMessage(() -> md.floatArray("test.array.bool"), "test.array.bool", "expected an array of floats");
        assertMessage(() -> md.intArray("test.array.uint32"), "test.array.uint32", "fit a 32-bit int");
        assertMessage(() -> md.integer("test.uint64"), "test.uint64", "expected an integer below 2^63, found 18446744073709551615");
        assertMessage(() -> md.intValue("test.uint32"), "test.uint32", "fits 32 bits");
        assertMessage(() -> md.string("no.such.key"), "no.such.key", "is missing (expected a string)");
        assertMessage(() -> md.optString("test.int8"), "test.int8", "expected a string");
        assertMessage(() -> allTypes.tensor("no.such.tensor"), "no.such.tensor", "is missing");
        assertEquals(-128, md.integer("test.int8"));
        assertEquals(4294967295L, md.integer("test.uint32"));
        assertEquals(-1L, md.value("test.uint64"));
        assertEquals("18446744073709551615", md.describe("test.uint64"));
        assertEquals("array<string>[5]", md.describe("test.array.string"));
    }

    static void assertMessage(Runnable r, String... parts) {
        MoiceException e = assertThrows(MoiceException.class, r::run);
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
    }

    @Test
    void unsupportedTypeFailsOnlyWhenUsed() {
        // all_types_v3 names its Q5_0 tensor "unsupported" from before moice read Q5_0; q5_v3 carries a Q2_K one.
        try (GgufFile q5 = GgufFile.open(resource("q5_v3.gguf"))) {
            GgufTensor t = q5.tensor("q2_k.unsupported");
            assertEquals(GgufType.Q2_K, t.type());
            assertEquals(2L * 84, t.data().byteSize());
            assertMessage(() -> t.dequantizeRow(0, new float[256], 0), "q5_v3.gguf", "q2_k.unsupported", "Q2_K is not supported");
            assertMessage(t::toFloats, "q2_k.unsupported", "Q2_K");
            assertMessage(() -> GgufDequant.dequantize(GgufType.Q2_K, t.data(), 0, new float[256], 0, 256), "Q2_K");
        }
    }

    @Test
    void dimsAreFastestFirst() {
        GgufTensor cube = allTypes.tensor("f32.cube"); // numpy shape (2, 3, 32)
        assertArrayEquals(new long[] {32, 3, 2}, cube.dims());
        assertEquals(3, cube.nDims());
        assertEquals(32, cube.rowLength());
        assertEquals(6, cube.rowCount());
        assertEquals(1, cube.dim(3));
        GgufTensor vector = allTypes.tensor("f32.vector");
        assertEquals(1, vector.rowCount());
        assertEquals(64 * 4, vector.byteSize());
    }

    @Test
    void tensorsBecomeUnusableAfterCloseButMetadataStays() {
        GgufFile f = GgufFile.open(resource("small_v2.gguf"));
        GgufTensor t = f.tensor("output_norm.weight");
        assertEquals(64, t.toFloats().length);
        f.close();
        f.close(); // idempotent
        assertThrows(IllegalStateException.class, t::toFloats);
        assertEquals("version two", f.metadata().string("test.string"));
    }
}
