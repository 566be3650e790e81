package moice.io;

import moice.MoiceException;
import moice.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SafeTensorsWriterTest {
    @TempDir
    Path dir;

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    /**
     * Expected bytes copied from the reference implementation's own unit tests (huggingface/safetensors,
     * safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty).
     */
    @Test
    void matchesReferenceImplementationBytes() throws IOException {
        Path a = dir.resolve("a.safetensors");
        new SafeTensorsWriter().addF32("attn.0", new float[]{0, 1, 2, 3, 4, 5}, 1, 2, 3).write(a);
        assertArrayEquals(bytes(
                64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
                58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
                101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
                0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64), Files.readAllBytes(a));

        Path b = dir.resolve("b.safetensors");
        new SafeTensorsWriter().addF32("attn0", new float[]{0, 1, 2, 3, 4, 5}, 1, 1, 2, 3).write(b);
        assertArrayEquals(bytes(
                72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
                121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
                91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
                115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
                32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
                160, 64), Files.readAllBytes(b));

        Path e = dir.resolve("e.safetensors");
        new SafeTensorsWriter().write(e);
        assertArrayEquals(bytes(8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32), Files.readAllBytes(e));

        Path m = dir.resolve("m.safetensors");
        new SafeTensorsWriter().metadata("framework", "pt").write(m);
        assertArrayEquals(bytes(
                40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
                95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
                116, 34, 125, 125, 32, 32, 32, 32, 32), Files.readAllBytes(m));
    }

    @Test
    void roundTripsAllTypesWithMetadata() {
        Random rnd = new Random(7);
        float[] big = new float[300_001]; // crosses the writer's 1 MiB chunk boundary, odd length
        for (int i = 0; i < big.length; i++) big[i] = (float) rnd.nextGaussian();
        float[] halves = {0.5f, -1.25f, 1024f, -0.0f, 6.1035156e-05f};
        float[] brains = {1f, -2.5f, Float.intBitsToFloat(0x7F7F0000), Float.intBitsToFloat(0x00800000)}; // bf16 max, min normal
        Path f = dir.resolve("rt.safetensors");
        new SafeTensorsWriter()
                .metadata("format", "pt").metadata("step", "12")
                .addF32("big", big, 1, big.length)
                .addEncoded("h", DType.F16, StFiles.f16(halves), halves.length)
                .addEncoded("bf", DType.BF16, StFiles.bf16(brains), 2, 2)
                .addF32("scalar", new float[]{42}) // shape []
                .write(f);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals(Map.of("format", "pt", "step", "12"), st.metadata());
            assertArrayEquals(big, st.matrix("big", 1, big.length).toFloats());
            assertEquals(DType.F16, st.dtype("h"));
            assertArrayEquals(halves, st.matrix("h", 1, halves.length).toFloats());
            assertArrayEquals(brains, st.matrix("bf", 2, 2).toFloats());
            assertArrayEquals(new long[0], st.shape("scalar"));
        }
    }

    /**
     * Reference order: dtype alignment descending (F32, BF16, F16), then name; data in header order. The expected
     * header is what safetensors.torch.save_file wrote for the same four tensors (checked by hand).
     */
    @Test
    void ordersTensorsLikeTheReference() {
        SafeTensorsWriter w = new SafeTensorsWriter()
                .addEncoded("a16", DType.F16, StFiles.f16(1), 1)
                .addF32("z32", new float[]{1}, 1)
                .addEncoded("b16", DType.BF16, StFiles.bf16(1), 1)
                .addF32("m32", new float[]{1}, 1);
        String header = new String(w.header(), StandardCharsets.UTF_8);
        assertEquals("{\"m32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"z32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                + "\"b16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]},"
                + "\"a16\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[10,12]}}       ", header);
        assertEquals(0, header.length() % 8);
    }

    @Test
    void replacesExistingFileAndLeavesNoTemporary() throws IOException {
        Path f = dir.resolve("out.safetensors");
        Files.writeString(f, "old");
        new SafeTensorsWriter().addF32("x", new float[]{1, 2}, 2).write(f);
        try (SafeTensors st = SafeTensors.open(f)) {
            assertArrayEquals(new float[]{1, 2}, st.matrix("x", 1, 2).toFloats());
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList());
        }
    }

    @Test
    void failedWriteKeepsOldFileAndRemovesTemporary() throws IOException {
        Path f = dir.resolve("keep.bin");
        Files.writeString(f, "old content");
        IllegalStateException boom = assertThrows(IllegalStateException.class, () -> AtomicFile.write(f, ch -> {
            ch.write(java.nio.ByteBuffer.wrap(new byte[]{1, 2, 3}));
            throw new IllegalStateException("boom");
        }));
        assertEquals("boom", boom.getMessage());
        MoiceException io = assertThrows(MoiceException.class, () -> AtomicFile.write(f, ch -> {
            throw new IOException("disk full");
        }));
        assertTrue(io.getMessage().startsWith(f + ": cannot write: disk full"), io.getMessage());
        assertEquals("old content", Files.readString(f));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList(), "temporary file removed");
        }
    }

    @Test
    void unwritableDirectoryIsAMoiceError() {
        Path f = dir.resolve("no-such-dir").resolve("x.safetensors");
        MoiceException e = assertThrows(MoiceException.class, () -> new SafeTensorsWriter().write(f));
        assertTrue(e.getMessage().startsWith(f + ": cannot write"), e.getMessage());
    }

    @Test
    void rejectsInconsistentArguments() {
        SafeTensorsWriter w = new SafeTensorsWriter().addF32("x", new float[4], 2, 2);
        assertThrows(IllegalArgumentException.class, () -> w.addF32("x", new float[1], 1), "duplicate");
        assertThrows(IllegalArgumentException.class, () -> w.addF32("y", new float[3], 2, 2), "count");
        assertThrows(IllegalArgumentException.class, () -> w.addF32("y", new float[0], -1), "negative");
        assertThrows(IllegalArgumentException.class, () -> w.addEncoded("y", DType.F16, new byte[3], 2), "bytes");
        assertThrows(IllegalArgumentException.class, () -> w.addF32("__metadata__", new float[1], 1), "reserved");
    }
}
