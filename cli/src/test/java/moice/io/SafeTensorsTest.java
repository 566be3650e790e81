package moice.io;

import moice.MoiceException;
import moice.tensor.DType;
import moice.tensor.Matrix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class SafeTensorsTest {
    @TempDir
    Path dir;

    /** Asserts a MoiceException whose message contains every fragment (the file, the tensor, the field...). */
    static String assertError(Executable call, String... fragments) {
        MoiceException e = assertThrows(MoiceException.class, call);
        for (String f : fragments)
            assertTrue(e.getMessage().contains(f), () -> "message lacks '" + f + "': " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one-line message");
        return e.getMessage();
    }

    private Path file(String name) {
        return dir.resolve(name);
    }

    // ---- valid files ----

    @Test
    void readsHandBuiltFileInAllThreeTypes() throws IOException {
        // offsets laid out by hand: a F32 [2,3] = 24 bytes, b F16 [3] = 6 bytes, c BF16 [1,2] = 4 bytes
        byte[] data = concat(StFiles.f32(1, 2, 3, 4, 5, 6), StFiles.f16(0.5f, -2f, 65504f), StFiles.bf16(1.5f, -3f));
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[30,34]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]}}";
        try (SafeTensors st = SafeTensors.open(StFiles.raw(file("m.safetensors"), json, data))) {
            assertEquals(Set.of("a", "b", "c"), st.names());
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertArrayEquals(new long[]{2, 3}, st.shape("a"));
            assertEquals(DType.F32, st.dtype("a"));
            assertEquals(DType.F16, st.dtype("b"));
            assertEquals(DType.BF16, st.dtype("c"));
            Matrix a = st.matrix("a", 2, 3);
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, a.toFloats());
            float[] row1 = new float[3];
            a.row(1, row1, 0);
            assertArrayEquals(new float[]{4, 5, 6}, row1);
            assertArrayEquals(new float[]{0.5f, -2f, 65504f}, st.matrix("b", 1, 3).toFloats(), "1-D tensor as one row");
            assertArrayEquals(new float[]{1.5f, -3f}, st.matrix("c", 1, 2).toFloats());
            assertEquals(file("m.safetensors").toString(), st.describe("b"));
        }
    }

    @Test
    void viewsAreZeroCopyAndDieWithTheSource() throws IOException {
        Path f = StFiles.raw(file("z.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                StFiles.f32(7, 8));
        Matrix m;
        try (SafeTensors st = SafeTensors.open(f)) {
            m = st.matrix("w", 1, 2);
            assertTrue(m.data().isMapped(), "view over the mapped file, not a copy");
            assertTrue(m.data().isReadOnly());
        }
        assertThrows(IllegalStateException.class, m::toFloats, "unmapped at close");
    }

    @Test
    void emptyFileOfTheReferenceImplementationOpens() throws IOException {
        // safetensors test_empty: "{}" padded with six spaces
        Path f = StFiles.raw(file("e.safetensors"), "{}      ", new byte[0]);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertTrue(st.names().isEmpty());
            assertEquals(Map.of(), st.metadata());
        }
    }

    @Test
    void zeroSizedTensorIsAllowed() throws IOException {
        Path f = StFiles.raw(file("zero.safetensors"),
                "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
                        + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", StFiles.f32(3));
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(0, st.matrix("e", 0, 4).toFloats().length);
            assertArrayEquals(new float[]{3}, st.matrix("w", 1, 1).toFloats());
        }
    }

    /** A sparse file just over 2.6 GB: mapping must not be limited to 2 GB, and the last row must be addressable. */
    @Test
    void mapsFilesLargerThanTwoGigabytes() throws IOException {
        long rows = 40_000, cols = 32_768; // F16: 2,621,440,000 bytes
        long bytes = rows * cols * 2;
        String json = "{\"big\":{\"dtype\":\"F16\",\"shape\":[" + rows + "," + cols + "],\"data_offsets\":[0," + bytes + "]}}";
        Path f = StFiles.raw(file("big.safetensors"), json, new byte[0]);
        long headerEnd = Files.size(f);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(headerEnd + bytes);
            raf.seek(headerEnd + bytes - 2);
            raf.write(StFiles.f16(1.0f)); // last value of the last row
        }
        try (SafeTensors st = SafeTensors.open(f)) {
            Matrix m = st.matrix("big", (int) rows, (int) cols);
            float[] last = new float[(int) cols];
            m.row((int) rows - 1, last, 0);
            assertEquals(1.0f, last[(int) cols - 1]);
            assertEquals(0.0f, last[0]);
        }
    }

    // ---- structural errors ----

    @Test
    void truncatedFile() throws IOException {
        Path f = file("t.safetensors");
        Files.write(f, new byte[]{1, 2, 3});
        assertError(() -> SafeTensors.open(f), f.toString(), "truncated", "8-byte header length");
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        Path f = StFiles.withLength(file("h.safetensors"), 1000, "{}".getBytes(StandardCharsets.UTF_8));
        assertError(() -> SafeTensors.open(f), f.toString(), "header length 1000", "10-byte file");
    }

    @Test
    void headerLengthOverLimitOrNegative() throws IOException {
        Path big = StFiles.withLength(file("l.safetensors"), 100_000_001L, new byte[16]);
        assertError(() -> SafeTensors.open(big), big.toString(), "header length 100000001", "limit");
        Path neg = StFiles.withLength(file("n.safetensors"), -1L, new byte[16]);
        assertError(() -> SafeTensors.open(neg), neg.toString(), "header length 18446744073709551615");
    }

    @Test
    void headerLengthTooSmall() throws IOException {
        Path f = StFiles.withLength(file("s.safetensors"), 1, new byte[]{'{'});
        assertError(() -> SafeTensors.open(f), f.toString(), "header length 1");
    }

    @Test
    void malformedHeaderJson() throws IOException {
        Path f = StFiles.raw(file("j.safetensors"), "{\"w\":{\"dtype\":\"F32\",", new byte[0]);
        assertError(() -> SafeTensors.open(f), f.toString(), "malformed JSON");
        Path notObject = StFiles.raw(file("a.safetensors"), "[1, 2]", new byte[0]);
        assertError(() -> SafeTensors.open(notObject), notObject.toString(), "header", "expected a JSON object");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] rest = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        Path f = StFiles.withLength(file("u.safetensors"), rest.length, rest);
        assertError(() -> SafeTensors.open(f), f.toString(), "UTF-8");
    }

    @Test
    void missingField() throws IOException {
        Path f = StFiles.raw(file("m.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", StFiles.f32(1));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "missing 'shape'");
    }

    @Test
    void notASafetensorsDtype() throws IOException {
        Path f = StFiles.raw(file("d.safetensors"), "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                StFiles.f32(1));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "'dtype'", "Q4_K");
    }

    @Test
    void negativeShape() throws IOException {
        Path f = StFiles.raw(file("n.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}",
                StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "'shape'", "negative");
    }

    @Test
    void shapeProductOverflow() throws IOException {
        Path f = StFiles.raw(file("o.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "'shape'", "long");
    }

    @Test
    void nonIntegerShape() throws IOException {
        Path f = StFiles.raw(file("f.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
                StFiles.f32(1));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "'shape'[0]", "integer");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        Path f = StFiles.raw(file("r.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "'data_offsets' [0, 16]", "8");
        Path reversed = StFiles.raw(file("rv.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(reversed), reversed.toString(), "tensor 'w'", "'data_offsets' [8, 0]");
        Path negative = StFiles.raw(file("ng.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", StFiles.f32(1));
        assertError(() -> SafeTensors.open(negative), negative.toString(), "tensor 'w'", "'data_offsets'");
        Path three = StFiles.raw(file("3.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", StFiles.f32(1));
        assertError(() -> SafeTensors.open(three), three.toString(), "tensor 'w'", "'data_offsets'", "[begin, end]");
    }

    @Test
    void sizeMismatch() throws IOException {
        // [3] of F32 needs 12 bytes, the offsets give 8
        Path f = StFiles.raw(file("s.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(f), f.toString(), "tensor 'w'", "'data_offsets' [0, 8]", "8 bytes", "needs 12");
    }

    @Test
    void gapsOverlapsAndTrailingBytes() throws IOException {
        Path gap = StFiles.raw(file("g.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", StFiles.f32(1, 2, 3));
        assertError(() -> SafeTensors.open(gap), gap.toString(), "tensor 'b'", "'data_offsets'", "'a' ends at 4");
        Path overlap = StFiles.raw(file("ov.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(overlap), overlap.toString(), "tensor 'b'", "'data_offsets'", "contiguous");
        Path trailing = StFiles.raw(file("tr.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", StFiles.f32(1, 2));
        assertError(() -> SafeTensors.open(trailing), trailing.toString(), "cover 4 bytes", "holds 8");
    }

    @Test
    void metadataMustBeStrings() throws IOException {
        Path f = StFiles.raw(file("md.safetensors"), "{\"__metadata__\":{\"step\":3}}", new byte[0]);
        assertError(() -> SafeTensors.open(f), f.toString(), "'__metadata__.step'", "string");
    }

    // ---- per-tensor errors at use ----

    @Test
    void unsupportedDtypeFailsOnlyWhenRequested() throws IOException {
        // a file carrying an unused I64 tensor (e.g. position ids) next to a usable weight
        byte[] data = concat(StFiles.f32(1, 2), new byte[16]);
        Path f = StFiles.raw(file("i.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"position_ids\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[8,24]}}", data);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertTrue(st.has("position_ids"));
            assertArrayEquals(new long[]{1, 2}, st.shape("position_ids"));
            assertArrayEquals(new float[]{1, 2}, st.matrix("w", 1, 2).toFloats());
            String expected = f + ": tensor 'position_ids' has dtype I64; moice reads F32, F16, BF16";
            assertEquals(expected, assertError(() -> st.dtype("position_ids")));
            assertEquals(expected, assertError(() -> st.matrix("position_ids", 1, 2)));
        }
    }

    @Test
    void subByteAndWideDtypesAreSizeChecked() throws IOException {
        // F4 packs two values per byte: [4] → 2 bytes; F64 [1] → 8 bytes
        Path ok = StFiles.raw(file("f4.safetensors"),
                "{\"q\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]},"
                        + "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[2,10]}}", new byte[10]);
        try (SafeTensors st = SafeTensors.open(ok)) {
            assertError(() -> st.dtype("q"), "tensor 'q' has dtype F4");
            assertError(() -> st.dtype("d"), "tensor 'd' has dtype F64");
        }
        Path bad = StFiles.raw(file("f4b.safetensors"), "{\"q\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}",
                new byte[2]);
        assertError(() -> SafeTensors.open(bad), bad.toString(), "tensor 'q'", "12 bits");
    }

    @Test
    void shapeDisagreement() throws IOException {
        String name = "model.layers.0.self_attn.q_proj.weight";
        Path f = StFiles.raw(file("q.safetensors"),
                "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[64,48],\"data_offsets\":[0," + 64 * 48 * 4 + "]}}",
                new byte[64 * 48 * 4]);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(f + ": tensor '" + name + "' has shape [64, 48]; config.json implies [64, 64]",
                    assertError(() -> st.matrix(name, 64, 64)));
            assertError(() -> st.matrix(name, 1, 64 * 48), "has shape [64, 48]", "implies [1, 3072]");
        }
    }

    @Test
    void oneDimensionalTensorMustMatchRowsOfOne() throws IOException {
        Path f = StFiles.raw(file("n.safetensors"), "{\"norm\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                StFiles.f32(1, 2, 3, 4));
        try (SafeTensors st = SafeTensors.open(f)) {
            assertError(() -> st.matrix("norm", 1, 5), "tensor 'norm' has shape [4]; config.json implies [5]");
            assertError(() -> st.matrix("norm", 2, 2), "has shape [4]", "implies [2, 2]");
        }
    }

    @Test
    void absentTensor() throws IOException {
        Path f = StFiles.raw(file("a.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                StFiles.f32(1));
        try (SafeTensors st = SafeTensors.open(f)) {
            assertFalse(st.has("lm_head.weight"));
            assertEquals(f + ": tensor 'lm_head.weight' not found", assertError(() -> st.matrix("lm_head.weight", 1, 1)));
            assertError(() -> st.shape("x"), "tensor 'x' not found");
            assertError(() -> st.describe("x"), "tensor 'x' not found");
        }
    }

    @Test
    void missingOrUnreadableFile() {
        Path f = file("nope.safetensors");
        assertError(() -> SafeTensors.open(f), f.toString(), "cannot read");
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
