package moice.io;

import moice.MoiceException;
import moice.attention.Routers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Router checkpoints: the reference fixtures read, round trips, and every validation error names what is wrong. */
class RouterFileTest {
    static final Path FIXTURE = Path.of("src/test/resources/moice/llama-gqa/routers.safetensors");

    @TempDir
    Path tmp;

    @Test
    void readsTheReferenceFixture() {
        Routers r = RouterFile.read(FIXTURE, 2, 16);
        assertArrayEquals(new double[]{10000, 17500, 18000, 19000, 20000, 22500, 25000}, r.bases());
        assertEquals(3, r.topK());
        assertEquals(7, r.numExperts());
        assertEquals(2, r.numLayers());
        assertEquals(16, r.headDim());
        assertEquals(7 * 16, r.gate1()[1].length);
        assertEquals(7 * 7, r.gate2()[0].length);
        assertEquals(2 * 16 * 7 + 49, r.parametersPerLayer());
        // the tensor as the plain safetensors reader sees it
        try (SafeTensors st = SafeTensors.open(FIXTURE)) {
            float[] direct = st.matrix("model.layers.1.self_attn.gate_3.weight", 7, 16).toFloats();
            assertArrayEquals(direct, r.gate3()[1]);
        }
    }

    @Test
    void roundTripsExactly() {
        Routers r = Routers.random(new double[]{500000, 875000.5}, 1, 8, 3, 0.02, 42);
        Path f = tmp.resolve("r.safetensors");
        RouterFile.write(r, f);
        Routers back = RouterFile.read(f, 3, 8);
        assertArrayEquals(r.bases(), back.bases());
        assertEquals(1, back.topK());
        for (int l = 0; l < 3; l++) {
            assertArrayEquals(r.gate1()[l], back.gate1()[l]);
            assertArrayEquals(r.gate2()[l], back.gate2()[l]);
            assertArrayEquals(r.gate3()[l], back.gate3()[l]);
        }
        try (SafeTensors st = SafeTensors.open(f)) {
            assertEquals("1", st.metadata().get("moice.top_k"));
            assertEquals(moice.tensor.DType.F32, st.dtype("model.layers.2.self_attn.gate_2.weight"));
        }
    }

    @Test
    void modelMismatchesAreNamed() {
        assertError(() -> RouterFile.read(FIXTURE, 3, 16), "routers for 2 layers; the model has 3");
        assertError(() -> RouterFile.read(FIXTURE, 2, 32), "'model.layers.0.self_attn.gate_1.weight' has 16 columns");
    }

    @Test
    void metadataErrors() throws Exception {
        assertError(writeWith(w -> {}, null, "3"), "'moice.bases' is missing");
        assertError(writeWith(w -> {}, "[10000, 20000]", null), "'moice.top_k' is missing");
        assertError(writeWith(w -> {}, "[10000, 20000]", "3"), "'moice.top_k' is 3; expected an integer in [1, 2]");
        assertError(writeWith(w -> {}, "[10000, 20000]", "0"), "'moice.top_k' is 0");
        assertError(writeWith(w -> {}, "[10000, -5]", "1"), "element 1 (-5.0) is not a positive RoPE base");
        assertError(writeWith(w -> {}, "[10000, 10000]", "1"), "element 1 (10000.0) repeats an earlier base");
        assertError(writeWith(w -> {}, "10000", "1"), "moice.bases");
        assertError(writeWith(w -> {}, "[]", "1"), "is empty");
    }

    @Test
    void tensorErrors() throws Exception {
        float[] nd = new float[2 * 4], nn = new float[4];
        assertError(writeWith(w -> w.addF32(Routers.tensorName(0, 1), nd, 2, 4)
                .addF32(Routers.tensorName(0, 2), nn, 2, 2), "[1, 2]", "1"),
                "'model.layers.0.self_attn.gate_3.weight' is missing");
        assertError(writeWith(w -> w.addF32(Routers.tensorName(0, 1), nd, 2, 4)
                .addF32(Routers.tensorName(0, 2), new float[6], 2, 3)
                .addF32(Routers.tensorName(0, 3), nd, 2, 4), "[1, 2]", "1"),
                "'model.layers.0.self_attn.gate_2.weight' has shape [2, 3]; expected [2, 2]");
        assertError(writeWith(w -> w.addF32(Routers.tensorName(0, 1), new float[12], 3, 4)
                .addF32(Routers.tensorName(0, 2), nn, 2, 2)
                .addF32(Routers.tensorName(0, 3), nd, 2, 4), "[1, 2]", "1"),
                "'model.layers.0.self_attn.gate_1.weight' has shape [3, 4]; expected [2 (number of bases)");
        float[] bad = new float[8];
        bad[5] = Float.NaN;
        assertError(writeWith(w -> w.addF32(Routers.tensorName(0, 1), nd, 2, 4)
                .addF32(Routers.tensorName(0, 2), nn, 2, 2)
                .addF32(Routers.tensorName(0, 3), bad, 2, 4), "[1, 2]", "1"),
                "'model.layers.0.self_attn.gate_3.weight' holds NaN at row 1, column 1");
        float[] inf = new float[4];
        inf[0] = Float.POSITIVE_INFINITY;
        assertError(writeWith(w -> w.addF32(Routers.tensorName(0, 1), nd, 2, 4)
                .addF32(Routers.tensorName(0, 2), inf, 2, 2)
                .addF32(Routers.tensorName(0, 3), nd, 2, 4), "[1, 2]", "1"),
                "'model.layers.0.self_attn.gate_2.weight' holds Infinity");
        assertError(writeWith(w -> w.addF32(Routers.tensorName(1, 1), nd, 2, 4)
                .addF32(Routers.tensorName(1, 2), nn, 2, 2)
                .addF32(Routers.tensorName(1, 3), nd, 2, 4), "[1, 2]", "1"),
                "'model.layers.0.self_attn.gate_1.weight' is missing");
        assertError(writeWith(w -> w.addF32("lm_head.weight", nd, 2, 4), "[1, 2]", "1"),
                "unexpected tensor 'lm_head.weight'");
        assertError(writeWith(w -> {}, "[1, 2]", "1"), "no router tensors");
    }

    @Test
    void missingFileIsAnError() {
        assertThrows(MoiceException.class, () -> RouterFile.read(tmp.resolve("absent.safetensors")));
    }

    private Runnable writeWith(Consumer<SafeTensorsWriter> tensors, String bases, String topK) throws Exception {
        Path f = Files.createTempFile(tmp, "r", ".safetensors");
        SafeTensorsWriter w = new SafeTensorsWriter();
        if (bases != null) w.metadata(RouterFile.BASES_KEY, bases);
        if (topK != null) w.metadata(RouterFile.TOP_K_KEY, topK);
        tensors.accept(w);
        w.write(f);
        return () -> RouterFile.read(f);
    }

    private static void assertError(Runnable r, String fragment) {
        MoiceException e = assertThrows(MoiceException.class, r::run);
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}
