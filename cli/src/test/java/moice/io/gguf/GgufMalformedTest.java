package moice.io.gguf;

import moice.MoiceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static moice.io.gguf.GgufFixtureTest.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Corrupt files, each built from a good fixture or byte by byte: every one must fail at open with a one-line
 * {@link MoiceException} naming the file, the field and what was expected.
 */
class GgufMalformedTest {
    private static final int F32 = GgufType.F32.id;

    @TempDir
    Path dir;

    /** Writes {@code bytes} to a file, opens it, and checks the error message mentions the file and {@code parts}. */
    private MoiceException assertRejected(byte[] bytes, String... parts) throws IOException {
        Path file = dir.resolve("bad.gguf");
        Files.write(file, bytes);
        MoiceException e = assertThrows(MoiceException.class, () -> GgufFile.open(file).close());
        String m = e.getMessage();
        assertFalse(m.contains("\n") || m.contains("\r"), "one line: " + m);
        assertTrue(m.startsWith(file.toString() + ": "), "names the file: " + m);
        for (String p : parts) assertTrue(m.contains(p), "'" + p + "' not in: " + m);
        return e;
    }

    private GgufFile openBytes(byte[] bytes) throws IOException {
        Path file = dir.resolve("good.gguf");
        Files.write(file, bytes);
        return GgufFile.open(file);
    }

    private static byte[] fixture(String name) throws IOException {
        return Files.readAllBytes(resource(name));
    }

    /** A valid file with one metadata key and one F32 tensor "w" of {@code dims}, data at offset 0. */
    private static GgufBytes oneTensor(long[] dims, int typeId, long offset) {
        return GgufBytes.header(3, 1, 1).key("general.architecture", GgufValueType.STRING).str("llama")
                .tensorInfo("w", dims, typeId, offset).pad(32);
    }

    @Test
    void goodHandBuiltFileOpens() throws IOException {
        byte[] bytes = oneTensor(new long[] {4, 2}, F32, 0).f32(1).f32(2).f32(3).f32(4).f32(5).f32(6).f32(7).f32(8).bytes();
        try (GgufFile f = openBytes(bytes)) {
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, f.tensor("w").toFloats());
            float[] row = new float[4];
            f.tensor("w").dequantizeRow(1, row, 0);
            assertArrayEquals(new float[] {5, 6, 7, 8}, row);
        }
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = fixture("small_v2.gguf");
        b[0] = 'X';
        assertRejected(b, "header", "expected the magic bytes 'GGUF'", "58475546");
        assertRejected(new byte[0], "header", "an empty file");
        assertRejected(new byte[] {'G', 'G'}, "header", "magic");
    }

    @Test
    void unsupportedVersions() throws IOException {
        byte[] b = fixture("small_v2.gguf");
        b[4] = 4;
        assertRejected(b, "header version", "expected version 2 or 3, found 4");
        b[4] = 1;
        assertRejected(b, "found 1 (GGUF v1 is obsolete)");
        b[4] = 0;
        b[7] = 3;
        assertRejected(b, "found 50331648 (a big-endian file?)");
    }

    @Test
    void truncatedHeader() throws IOException {
        byte[] b = fixture("small_v2.gguf");
        assertRejected(java.util.Arrays.copyOf(b, 6), "header version", "truncated");
        assertRejected(java.util.Arrays.copyOf(b, 20), "header metadata count", "truncated");
        assertRejected(java.util.Arrays.copyOf(b, 40), "metadata");
    }

    /**
     * Every prefix of a file shorter than its last tensor's end is rejected; longer prefixes only lose padding. Every
     * length is tried through the header and a little past it, then the lengths around each tensor's end.
     */
    @Test
    void everyTruncationIsRejected() throws IOException {
        for (String name : new String[] {"small_v2.gguf", "all_types_v3.gguf"}) {
            byte[] b = fixture(name);
            java.util.TreeSet<Long> lengths = new java.util.TreeSet<>();
            long end;
            int tensorCount;
            try (GgufFile f = GgufFile.open(resource(name))) {
                end = f.tensors().stream().mapToLong(t -> t.fileOffset() + t.byteSize()).max().orElseThrow();
                tensorCount = f.tensors().size();
                for (long len = 0; len < f.dataStart() + 64; len++) lengths.add(len);
                for (GgufTensor t : f.tensors())
                    for (long d = -2; d <= 2; d++) lengths.add(t.fileOffset() + t.byteSize() + d);
            }
            for (long len = end; len < b.length; len++) lengths.add(len);
            MemorySegment whole = MemorySegment.ofArray(b);
            for (long len : lengths.headSet((long) b.length)) {
                MemorySegment prefix = whole.asSlice(0, len);
                if (len < end) {
                    MoiceException e = assertThrows(MoiceException.class, () -> GgufFile.parse(prefix, name), name + " cut at " + len);
                    assertTrue(e.getMessage().startsWith(name + ": "), e.getMessage());
                } else {
                    assertEquals(tensorCount, GgufFile.parse(prefix, name).tensors().size(), name + " cut at " + len);
                }
            }
        }
    }

    @Test
    void stringLongerThanTheFile() throws IOException {
        assertRejected(GgufBytes.header(3, 0, 1).key("k", GgufValueType.STRING).u64(1000).raw("abc".getBytes()).bytes(),
                "metadata key 'k'", "string length 1000 runs past the end of the file (3 bytes left)");
        assertRejected(GgufBytes.header(3, 0, 1).u64(1L << 40).raw("key".getBytes()).zeros(20).bytes(),
                "metadata entry #0 key", "string length 1099511627776");
        assertRejected(GgufBytes.header(3, 1, 0).u64(-1).zeros(30).bytes(), "tensor info #0 name", "string length 18446744073709551615 runs past");
    }

    @Test
    void hugeCounts() throws IOException {
        assertRejected(GgufBytes.header(3, 1L << 40, 0).zeros(100).bytes(), "header tensor count", "found 1099511627776");
        assertRejected(GgufBytes.header(3, 0, 1L << 40).zeros(100).bytes(), "header metadata count", "found 1099511627776");
        assertRejected(GgufBytes.header(3, 50, 0).zeros(100).bytes(), "header tensor count", "at most 4 tensors", "found 50");
        assertRejected(GgufBytes.header(3, 0, 20).zeros(100).bytes(), "header metadata count", "at most 7 entries", "found 20");
        assertRejected(GgufBytes.header(3, -1, 0).bytes(), "header tensor count", "below 2^63, found 18446744073709551615");
        // Counts that pass the header bound but not once the metadata has taken its bytes.
        assertRejected(GgufBytes.header(3, 3, 1).key("k", GgufValueType.STRING).str("x".repeat(60)).zeros(30).bytes(),
                "header tensor count", "found 3");
    }

    @Test
    void hugeArrays() throws IOException {
        assertRejected(GgufBytes.header(3, 0, 1).key("arr", GgufValueType.ARRAY).u32(GgufValueType.UINT8.id).u64(1L << 40).zeros(64).bytes(),
                "metadata key 'arr'", "array of 1099511627776 uint8 elements cannot fit");
        assertRejected(GgufBytes.header(3, 0, 1).key("arr", GgufValueType.ARRAY).u32(GgufValueType.STRING.id).u64(1L << 40).zeros(64).bytes(),
                "metadata key 'arr'", "string elements cannot fit");
        // Nested: the inner array's count is the bad one.
        assertRejected(GgufBytes.header(3, 0, 1).key("arr", GgufValueType.ARRAY).u32(GgufValueType.ARRAY.id).u64(1)
                        .u32(GgufValueType.INT64.id).u64(1L << 40).zeros(64).bytes(),
                "metadata key 'arr'[0]", "array of 1099511627776 int64");
        // Strings inside an array, one of which is too long.
        assertRejected(GgufBytes.header(3, 0, 1).key("tokens", GgufValueType.ARRAY).u32(GgufValueType.STRING.id).u64(2)
                        .str("ok").u64(500).zeros(40).bytes(),
                "metadata key 'tokens'[1] length", "string length 500 runs past");
    }

    @Test
    void unknownTypeIds() throws IOException {
        assertRejected(oneTensor(new long[] {32}, 99, 0).zeros(256).bytes(), "tensor 'w'", "expected a known ggml type id, found 99");
        assertRejected(oneTensor(new long[] {32}, 4, 0).zeros(256).bytes(), "tensor 'w'", "found 4");
        assertRejected(GgufBytes.header(3, 0, 1).str("k").u32(13).zeros(16).bytes(), "metadata key 'k'", "expected a value type id 0..12, found 13");
        assertRejected(GgufBytes.header(3, 0, 1).key("arr", GgufValueType.ARRAY).u32(77).u64(0).zeros(16).bytes(),
                "metadata key 'arr'", "expected an array element type id 0..12, found 77");
    }

    @Test
    void tensorDataPastTheEnd() throws IOException {
        assertRejected(oneTensor(new long[] {64}, F32, 0).zeros(100).bytes(),
                "tensor 'w'", "256 bytes at data-section offset 0", "inside the file");
        assertRejected(oneTensor(new long[] {8}, F32, 1L << 62).zeros(32).bytes(), "tensor 'w'", "inside the file");
        assertRejected(oneTensor(new long[] {8}, F32, Long.MAX_VALUE & ~31L).zeros(32).bytes(), "tensor 'w'", "inside the file");
        // Rows of a quantised type: 2 rows x 8 blocks x 34 bytes.
        assertRejected(oneTensor(new long[] {256, 2}, GgufType.Q8_0.id, 0).zeros(543).bytes(), "tensor 'w'", "544 bytes");
    }

    @Test
    void misalignedOffset() throws IOException {
        assertRejected(oneTensor(new long[] {4}, F32, 16).zeros(64).bytes(),
                "tensor 'w'", "expected a data offset that is a multiple of the alignment 32, found 16");
    }

    @Test
    void alignmentMustBeAPowerOfTwo() throws IOException {
        for (long bad : new long[] {48, 0, 3, 1L << 31}) {
            byte[] b = GgufBytes.header(3, 0, 1).key(GgufFile.ALIGNMENT_KEY, GgufValueType.UINT32).u32(bad).bytes();
            assertRejected(b, "metadata key 'general.alignment'", "power of two", "found " + bad);
        }
        assertRejected(GgufBytes.header(3, 0, 1).key(GgufFile.ALIGNMENT_KEY, GgufValueType.STRING).str("32").bytes(),
                "general.alignment", "expected an unsigned integer, found string");
        // A custom alignment applies to offsets and to the start of the data section.
        byte[] ok = GgufBytes.header(3, 1, 1).key(GgufFile.ALIGNMENT_KEY, GgufValueType.UINT32).u32(128)
                .tensorInfo("w", new long[] {4}, F32, 0).pad(128).f32(9).f32(8).f32(7).f32(6).bytes();
        try (GgufFile f = openBytes(ok)) {
            assertEquals(128, f.alignment());
            assertEquals(128, f.dataStart());
            assertArrayEquals(new float[] {9, 8, 7, 6}, f.tensor("w").toFloats());
        }
    }

    @Test
    void duplicateNames() throws IOException {
        assertRejected(GgufBytes.header(3, 2, 0).tensorInfo("w", new long[] {8}, F32, 0).tensorInfo("w", new long[] {8}, F32, 32)
                .pad(32).zeros(64).bytes(), "tensor 'w'", "expected unique tensor names");
        assertRejected(GgufBytes.header(3, 0, 2).key("k", GgufValueType.UINT8).u8(1).key("k", GgufValueType.UINT8).u8(2).bytes(),
                "metadata key 'k'", "expected unique keys");
    }

    @Test
    void badDimensions() throws IOException {
        assertRejected(oneTensor(new long[] {1L << 32, 1L << 32, 4}, F32, 0).zeros(32).bytes(), "tensor 'w'", "product fits 63 bits");
        assertRejected(oneTensor(new long[] {1L << 61, 2}, F32, 0).zeros(32).bytes(), "tensor 'w'", "product fits 63 bits");
        // Found by the fuzz test: the row's byte count (2^62 values x 4 bytes) overflows though the value count does not.
        assertRejected(oneTensor(new long[] {1L << 62}, F32, 0).zeros(32).bytes(), "tensor 'w'", "product fits 63 bits");
        assertRejected(oneTensor(new long[] {1, 1, 1, 1, 1}, F32, 0).zeros(32).bytes(), "tensor 'w'", "at most 4 dimensions, found 5");
        assertRejected(oneTensor(new long[] {-5}, F32, 0).zeros(32).bytes(), "tensor 'w'", "dimension 0 below 2^63");
        assertRejected(oneTensor(new long[] {100, 2}, GgufType.Q4_K.id, 0).zeros(512).bytes(),
                "tensor 'w'", "multiple of Q4_K's block size 256, found 100");
    }

    @Test
    void nestingAndBoolsAreChecked() throws IOException {
        GgufBytes deep = GgufBytes.header(3, 0, 1).key("deep", GgufValueType.ARRAY);
        for (int i = 0; i < 40; i++) deep.u32(GgufValueType.ARRAY.id).u64(1);
        assertRejected(deep.zeros(16).bytes(), "metadata key 'deep'[0][0]", "nested at most 16 deep");
        // Many empty nested arrays: cheap in the file, costly on the heap, so capped.
        int many = (int) GgufFile.MAX_NESTED_ARRAYS + 1;
        GgufBytes wide = GgufBytes.header(3, 0, 1).key("wide", GgufValueType.ARRAY).u32(GgufValueType.ARRAY.id).u64(many);
        wide.zeros(12 * many);
        assertRejected(wide.bytes(), "metadata key 'wide'", "at most 1048576 nested arrays");
        assertRejected(GgufBytes.header(3, 0, 1).key("b", GgufValueType.BOOL).u8(2).bytes(), "metadata key 'b'", "0 or 1, found 2");
        assertRejected(GgufBytes.header(3, 0, 1).key("b", GgufValueType.ARRAY).u32(GgufValueType.BOOL.id).u64(3).u8(1).u8(0).u8(7).bytes(),
                "metadata key 'b'[2]", "found 7");
    }

    @Test
    void controlCharactersInNamesStayOnOneLine() throws IOException {
        assertRejected(GgufBytes.header(3, 0, 1).key("evil\nkey\r" + "x".repeat(500), GgufValueType.BOOL).u8(9).bytes(),
                "evil\\x0akey\\x0d", "...");
    }

    @Test
    void edgeCasesThatAreValid() throws IOException {
        byte[] b = GgufBytes.header(2, 0, 4)
                .key("empty", GgufValueType.ARRAY).u32(GgufValueType.STRING.id).u64(0)
                .key("empty.nested", GgufValueType.ARRAY).u32(GgufValueType.ARRAY.id).u64(1).u32(GgufValueType.INT16.id).u64(0)
                .key("", GgufValueType.STRING).str("empty key")
                .key("bad.utf8", GgufValueType.STRING).u64(2).u8(0xC3).u8(0x28).bytes();
        try (GgufFile f = openBytes(b)) {
            assertEquals(2, f.version());
            assertEquals(0, f.metadata().stringArray("empty").length);
            assertEquals(0, f.metadata().array("empty.nested").arrays().get(0).longs().length);
            assertEquals("empty key", f.metadata().string(""));
            assertEquals("\uFFFD(", f.metadata().string("bad.utf8"));
            assertTrue(f.tensors().isEmpty());
            assertTrue(f.dataStart() >= f.fileSize() && f.dataStart() % 32 == 0, "no tensors: the padding may be absent");
        }
        // Zero-sized tensors and a 0-dimensional scalar.
        byte[] z = GgufBytes.header(3, 2, 0).tensorInfo("none", new long[] {0, 5}, F32, 0)
                .tensorInfo("scalar", new long[] {}, F32, 0).pad(32).f32(2.5f).bytes();
        try (GgufFile f = openBytes(z)) {
            assertEquals(0, f.tensor("none").byteSize());
            assertEquals(0, f.tensor("none").toFloats().length);
            assertArrayEquals(new float[] {2.5f}, f.tensor("scalar").toFloats());
        }
    }

    @Test
    void largeVocabularyArraysDecodeCorrectly() throws IOException {
        int n = 60_000;
        GgufBytes b = GgufBytes.header(3, 0, 3).key("tokens", GgufValueType.ARRAY).u32(GgufValueType.STRING.id).u64(n);
        for (int i = 0; i < n; i++) b.str(i % 3 == 0 ? "Ġtok" + i : "ü" + i);
        b.key("scores", GgufValueType.ARRAY).u32(GgufValueType.FLOAT32.id).u64(n);
        for (int i = 0; i < n; i++) b.f32(-i);
        b.key("types", GgufValueType.ARRAY).u32(GgufValueType.INT32.id).u64(n);
        for (int i = 0; i < n; i++) b.u32(i % 5);
        try (GgufFile f = openBytes(b.bytes())) {
            String[] tokens = f.metadata().stringArray("tokens");
            float[] scores = f.metadata().floatArray("scores");
            int[] types = f.metadata().intArray("types");
            for (int i = 0; i < n; i++) {
                assertEquals(i % 3 == 0 ? "Ġtok" + i : "ü" + i, tokens[i]);
                assertEquals(-i, scores[i]);
                assertEquals(i % 5, types[i]);
            }
        }
    }

    @Test
    void perTokenArraysMustMatchTheVocabulary() throws IOException {
        byte[] b = GgufBytes.header(3, 0, 3)
                .key("tokenizer.ggml.model", GgufValueType.STRING).str("llama")
                .key("tokenizer.ggml.tokens", GgufValueType.ARRAY).u32(GgufValueType.STRING.id).u64(2).str("a").str("b")
                .key("tokenizer.ggml.scores", GgufValueType.ARRAY).u32(GgufValueType.FLOAT32.id).u64(1).f32(0).bytes();
        try (GgufFile f = openBytes(b)) {
            GgufFixtureTest.assertMessage(() -> GgufTokenizerData.read(f), "good.gguf", "tokenizer.ggml.scores",
                    "expected one entry per token (2), found 1");
        }
    }

    @Test
    void missingFileIsAMoiceException() {
        Path missing = dir.resolve("nope.gguf");
        MoiceException e = assertThrows(MoiceException.class, () -> GgufFile.open(missing));
        assertTrue(e.getMessage().startsWith(missing + ": cannot read GGUF file"), e.getMessage());
    }
}
