package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import moice.io.Json;
import org.junit.jupiter.api.Test;

/**
 * {@link Q8_0Format#quantizeRow} against the bytes {@code gguf.quants.quantize} wrote for the same float32 input
 * ({@code scripts/reference/make_q8_0_quantize_fixture.py}), plus its rounding rule and input checks.
 */
class Q8_0QuantizeTest {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void bytesMatchTheGgufPackage() throws IOException {
        Path dir = QuantFormatTest.resourceDir();
        Map<String, Object> doc = Json.object(Json.parseFile(dir.resolve("q8_0_quantize.json")), "q8_0_quantize.json");
        int rows = (int) Json.integer(doc.get("rows"), "rows"), cols = (int) Json.integer(doc.get("cols"), "cols");
        byte[] input = Files.readAllBytes(dir.resolve("q8_0_quantize.input.f32"));
        byte[] expected = Files.readAllBytes(dir.resolve("q8_0_quantize.q8_0"));
        long rowBytes = DType.Q8_0.bytesFor(cols);
        assertEquals(4L * rows * cols, input.length);
        assertEquals(rows * rowBytes, expected.length);
        MemorySegment in = MemorySegment.ofArray(input);
        float[] x = new float[rows * cols + 3];
        for (int i = 0; i < rows * cols; i++) x[3 + i] = in.get(LE_FLOAT, 4L * i);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(rows * rowBytes + 5).asSlice(5);
            for (int r = 0; r < rows; r++) Q8_0Format.quantizeRow(x, 3 + r * cols, cols, out, r * rowBytes);
            for (int i = 0; i < expected.length; i++) {
                long block = i / 34;
                assertEquals(expected[i], out.get(ValueLayout.JAVA_BYTE, i),
                        "row " + block * 32 / cols + " block " + block % (cols / 32) + " byte " + i % 34);
            }
        }
    }

    @Test
    void roundsHalvesAwayFromZero() {
        assertEquals(3, Q8_0Format.roundHalfAwayFromZero(2.5f));
        assertEquals(-3, Q8_0Format.roundHalfAwayFromZero(-2.5f));
        assertEquals(1, Q8_0Format.roundHalfAwayFromZero(0.5f));
        assertEquals(-1, Q8_0Format.roundHalfAwayFromZero(-0.5f));
        assertEquals(0, Q8_0Format.roundHalfAwayFromZero(Math.nextDown(0.5f)));
        assertEquals(2, Q8_0Format.roundHalfAwayFromZero(Math.nextDown(2.5f)));
        assertEquals(-127, Q8_0Format.roundHalfAwayFromZero(-127f));
        assertEquals(0, Q8_0Format.roundHalfAwayFromZero(-0f));
    }

    /**
     * Dequantising what the quantiser wrote gives each value to within half a step, plus 127 times the f16 rounding
     * error of the step (relative 2^-11, or absolute 2^-25 where the step is an f16 subnormal).
     */
    @Test
    void roundTripIsWithinHalfAStep() {
        SplittableRandom rnd = new SplittableRandom(41);
        int cols = 256;
        float[] x = new float[cols], back = new float[cols];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(DType.Q8_0.bytesFor(cols));
            for (int round = 0; round < 50; round++) {
                double scale = Math.pow(10, rnd.nextInt(-3, 4));
                for (int i = 0; i < cols; i++) x[i] = (float) (rnd.nextGaussian() * scale);
                Q8_0Format.quantizeRow(x, 0, cols, q, 0);
                DType.Q8_0.format().dequantizeRow(q, 0, cols, back, 0);
                for (int b = 0; b < cols / 32; b++) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
                    double step = amax / 127.0, bound = step / 2 + 127 * Math.max(step * 0x1p-11, 0x1p-25) + Math.ulp(amax);
                    for (int j = 0; j < 32; j++) {
                        int k = 32 * b + j;
                        assertTrue(Math.abs(back[k] - x[k]) <= bound, "value " + k + ": " + x[k] + " came back as " + back[k]);
                    }
                }
            }
        }
    }

    @Test
    void rejectsNonFiniteValuesAndPartialBlocks() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate(68);
            float[] x = new float[64];
            x[40] = Float.NaN;
            var e = assertThrows(IllegalArgumentException.class, () -> Q8_0Format.quantizeRow(x, 0, 64, q, 0));
            assertTrue(e.getMessage().contains("40"), e.getMessage());
            x[40] = Float.NEGATIVE_INFINITY;
            assertThrows(IllegalArgumentException.class, () -> Q8_0Format.quantizeRow(x, 0, 64, q, 0));
            assertThrows(IllegalArgumentException.class, () -> Q8_0Format.quantizeRow(new float[48], 0, 48, q, 0));
        }
    }
}
