package moice.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import moice.io.Json;
import moice.io.gguf.GgufDequant;
import moice.io.gguf.GgufType;
import org.junit.jupiter.api.Test;

/**
 * The block-quantised {@link WeightFormat}s: vector path against scalar twin (bit for bit), scalar twin against
 * {@link GgufDequant} (itself checked against the {@code gguf} Python package) and against the values that package
 * wrote into the committed fixture, hand-built blocks, and {@link RowDot} against a double-precision dot product.
 */
class QuantFormatTest {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static int[] columnCounts(DType type) {
        return type.blockSize == 32 ? new int[] {32, 64, 96, 576, 1536} : new int[] {256, 512, 768, 1536};
    }

    @Test
    void vectorPathIsBitIdenticalToScalarTwinAndToGgufDequant() {
        SplittableRandom rnd = new SplittableRandom(21);
        try (Arena arena = Arena.ofConfined()) {
            // several rounds so the loops run compiled (C2), not only interpreted
            for (int round = 0; round < 4; round++)
                for (DType type : QuantTestData.TYPES)
                    for (int cols : columnCounts(type)) {
                        int rows = 48;
                        MemorySegment data = QuantTestData.blocks(type, (long) rows * cols / type.blockSize,
                                QuantTestData.Scales.ANY_FINITE, rnd, arena);
                        long rowBytes = type.bytesFor(cols);
                        float[] vec = new float[cols + 5], scalar = new float[cols + 5], gguf = new float[cols + 5];
                        for (int r = 0; r < rows; r++) {
                            type.format().dequantizeRow(data, r * rowBytes, cols, vec, 5);
                            type.format().dequantizeRowScalar(data, r * rowBytes, cols, scalar, 5);
                            GgufDequant.dequantize(GgufType.valueOf(type.name()), data, r * rowBytes, gguf, 5, cols);
                            for (int k = 5; k < cols + 5; k++) {
                                int s = Float.floatToRawIntBits(scalar[k]);
                                if (s != Float.floatToRawIntBits(vec[k]) || s != Float.floatToRawIntBits(gguf[k]))
                                    throw new AssertionError(type + " cols=" + cols + " row " + r + " value " + (k - 5)
                                            + ": scalar " + scalar[k] + " vector " + vec[k] + " GgufDequant " + gguf[k]);
                            }
                        }
                    }
        }
    }

    @Test
    void fixtureTensorsMatchTheGgufPackageBitForBit() throws IOException {
        // all_types_v3: one tensor of each type but Q5_1 (its Q5_0 one is named "unsupported", from before);
        // q5_v3: quantised and random-byte Q5_0 and Q5_1 tensors
        assertEquals(8, checkFixture("all_types_v3"), "quantised tensors in all_types_v3");
        assertEquals(4, checkFixture("q5_v3"), "quantised tensors in q5_v3");
    }

    private static int checkFixture(String fixture) throws IOException {
        Path dir = resourceDir();
        Map<String, Object> manifest = Json.object(Json.parseFile(dir.resolve(fixture + ".expected.json")), "manifest");
        int checked = 0;
        try (Arena arena = Arena.ofConfined();
             FileChannel gguf = FileChannel.open(dir.resolve(fixture + ".gguf"));
             FileChannel values = FileChannel.open(dir.resolve(fixture + ".expected.f32"))) {
            MemorySegment file = gguf.map(FileChannel.MapMode.READ_ONLY, 0, gguf.size(), arena);
            MemorySegment expected = values.map(FileChannel.MapMode.READ_ONLY, 0, values.size(), arena);
            for (Object o : Json.array(manifest.get("tensors"), "tensors")) {
                Map<String, Object> t = Json.object(o, "tensor");
                String typeName = Json.string(t.get("type"), "type");
                DType type = List.of(QuantTestData.TYPES).stream().filter(d -> d.name().equals(typeName)).findFirst().orElse(null);
                if (type == null) continue;
                List<Object> dims = Json.array(t.get("dims"), "dims");
                int cols = (int) Json.integer(dims.get(0), "dims[0]");
                int count = (int) Json.integer(t.get("count"), "count");
                long first = Json.integer(t.get("first_value"), "first_value");
                int rows = count / cols;
                MemorySegment data = file.asSlice(Json.integer(t.get("file_offset"), "file_offset"), rows * type.bytesFor(cols));
                Matrix w = new Matrix(Json.string(t.get("name"), "name"), type, rows, cols, data);
                float[] vec = new float[cols], scalar = new float[cols];
                for (int r = 0; r < rows; r++) {
                    w.row(r, vec, 0);
                    type.format().dequantizeRowScalar(data, r * w.rowBytes(), cols, scalar, 0);
                    for (int k = 0; k < cols; k++) {
                        int e = Float.floatToRawIntBits(expected.get(LE_FLOAT, 4 * (first + (long) r * cols + k)));
                        assertEquals(e, Float.floatToRawIntBits(vec[k]), w + " row " + r + " value " + k + " (vector)");
                        assertEquals(e, Float.floatToRawIntBits(scalar[k]), w + " row " + r + " value " + k + " (scalar)");
                    }
                }
                checked++;
            }
        }
        return checked;
    }

    static Path resourceDir() {
        try {
            return Path.of(QuantFormatTest.class.getResource("/gguf/all_types_v3.gguf").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void rowDotIsTheDotProductOfTheDequantisedRow() {
        SplittableRandom rnd = new SplittableRandom(22);
        try (Arena arena = Arena.ofConfined()) {
            for (int round = 0; round < 3; round++)
                for (DType type : QuantTestData.TYPES)
                    for (int cols : columnCounts(type)) {
                        int rows = 32;
                        Matrix w = QuantTestData.matrix(type, rows, cols, rnd, arena);
                        RowDot rowDot = (RowDot) type.format();
                        float[] x = new float[cols + 3], row = new float[cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        for (int r = 0; r < rows; r++) {
                            type.format().dequantizeRowScalar(w.data(), r * w.rowBytes(), cols, row, 0);
                            double exact = 0, abs = 0;
                            for (int k = 0; k < cols; k++) {
                                exact += (double) row[k] * x[3 + k];
                                abs += Math.abs((double) row[k] * x[3 + k]);
                            }
                            float got = rowDot.dotRow(w.data(), r * w.rowBytes(), cols, x, 3);
                            assertTrue(Math.abs(got - exact) <= VectorKernelsTest.gamma(cols) * abs,
                                    type + " cols=" + cols + " row " + r + ": " + got + " vs " + exact);
                        }
                    }
        }
    }

    /** d = 0.5 (f16 0x3800): q·d for q = −128, −1, 0, 1, 127 and the rest. */
    @Test
    void handBuiltQ8_0Block() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(34);
            b.set(QuantBlocks.LE_SHORT, 0, (short) 0x3800);
            for (int j = 0; j < 32; j++) b.set(QuantBlocks.BYTE, 2 + j, (byte) (j * 8 - 128));
            float[] v = dequantizeBoth(DType.Q8_0, b, 32);
            for (int j = 0; j < 32; j++) assertEquals((j * 8 - 128) * 0.5f, v[j]);
        }
    }

    /** d = 2, m = −1: byte j = (15−j)·16 + j gives value j = 2j − 1 and value 16+j = 2(15−j) − 1; Q4_0 with d = 2: 2(q−8). */
    @Test
    void handBuiltQ4Blocks() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q41 = arena.allocate(20), q40 = arena.allocate(18);
            q41.set(QuantBlocks.LE_SHORT, 0, (short) 0x4000);
            q41.set(QuantBlocks.LE_SHORT, 2, (short) 0xbc00);
            q40.set(QuantBlocks.LE_SHORT, 0, (short) 0x4000);
            for (int j = 0; j < 16; j++) {
                q41.set(QuantBlocks.BYTE, 4 + j, (byte) ((15 - j) << 4 | j));
                q40.set(QuantBlocks.BYTE, 2 + j, (byte) ((15 - j) << 4 | j));
            }
            float[] v1 = dequantizeBoth(DType.Q4_1, q41, 32), v0 = dequantizeBoth(DType.Q4_0, q40, 32);
            for (int j = 0; j < 16; j++) {
                assertEquals(2 * j - 1, v1[j]);
                assertEquals(2 * (15 - j) - 1, v1[16 + j]);
                assertEquals(2 * (j - 8), v0[j]);
                assertEquals(2 * (15 - j - 8), v0[16 + j]);
            }
        }
    }

    /**
     * Q5_0 with d = 0.5 and Q5_1 with d = 2, m = −1: byte j = (15−j)·16 + j, qh = 0xAAAA_5555 (fifth bit set for even j
     * below 16 and odd j from 16), so value j < 16 is j + 16·[j even] and value 16+j is (15−j) + 16·[j odd].
     */
    @Test
    void handBuiltQ5Blocks() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q50 = arena.allocate(22), q51 = arena.allocate(24);
            q50.set(QuantBlocks.LE_SHORT, 0, (short) 0x3800);
            q50.set(QuantBlocks.LE_INT, 2, 0xAAAA_5555);
            q51.set(QuantBlocks.LE_SHORT, 0, (short) 0x4000);
            q51.set(QuantBlocks.LE_SHORT, 2, (short) 0xbc00);
            q51.set(QuantBlocks.LE_INT, 4, 0xAAAA_5555);
            for (int j = 0; j < 16; j++) {
                q50.set(QuantBlocks.BYTE, 6 + j, (byte) ((15 - j) << 4 | j));
                q51.set(QuantBlocks.BYTE, 8 + j, (byte) ((15 - j) << 4 | j));
            }
            float[] v0 = dequantizeBoth(DType.Q5_0, q50, 32), v1 = dequantizeBoth(DType.Q5_1, q51, 32);
            for (int j = 0; j < 16; j++) {
                int low = j + (j % 2 == 0 ? 16 : 0), high = 15 - j + (j % 2 == 1 ? 16 : 0);
                assertEquals(0.5f * (low - 16), v0[j], "Q5_0 value " + j);
                assertEquals(0.5f * (high - 16), v0[16 + j], "Q5_0 value " + (16 + j));
                assertEquals(2f * low - 1, v1[j], "Q5_1 value " + j);
                assertEquals(2f * high - 1, v1[16 + j], "Q5_1 value " + (16 + j));
            }
        }
    }

    /**
     * Q4_K and Q5_K with d = 1, dmin = 0.5 and hand-packed 6-bit (scale, min) pairs, those of sub-blocks 4–7 large
     * enough to need their top bits (stored in bytes 0–7); quants all 3 (fifth bit set in Q5_K for odd j).
     */
    @Test
    void handBuiltKBlocks() {
        int[] sc = {1, 2, 3, 63, 48, 53, 58, 63};
        int[] mn = {0, 2, 4, 6, 17, 33, 50, 63};
        byte[] packed = new byte[12];
        for (int j = 0; j < 4; j++) {
            packed[j] = (byte) (sc[j] | (sc[j + 4] >> 4) << 6);
            packed[j + 4] = (byte) (mn[j] | (mn[j + 4] >> 4) << 6);
            packed[j + 8] = (byte) (sc[j + 4] & 0xF | (mn[j + 4] & 0xF) << 4);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q4 = arena.allocate(144), q5 = arena.allocate(176);
            for (MemorySegment b : new MemorySegment[] {q4, q5}) {
                b.set(QuantBlocks.LE_SHORT, 0, (short) 0x3c00);
                b.set(QuantBlocks.LE_SHORT, 2, (short) 0x3800);
                MemorySegment.copy(MemorySegment.ofArray(packed), 0, b, 4, 12);
            }
            for (int i = 0; i < 128; i++) q4.set(QuantBlocks.BYTE, 16 + i, (byte) 0x33);
            for (int i = 0; i < 128; i++) q5.set(QuantBlocks.BYTE, 48 + i, (byte) 0x33);
            for (int l = 0; l < 32; l++) q5.set(QuantBlocks.BYTE, 16 + l, (byte) 0xAA); // bit j set for odd j
            float[] v4 = dequantizeBoth(DType.Q4_K, q4, 256), v5 = dequantizeBoth(DType.Q5_K, q5, 256);
            for (int j = 0; j < 8; j++)
                for (int l = 0; l < 32; l++) {
                    assertEquals(sc[j] * 3 - mn[j] * 0.5f, v4[32 * j + l], "Q4_K sub-block " + j);
                    int q = j % 2 == 1 ? 19 : 3;
                    assertEquals(sc[j] * q - mn[j] * 0.5f, v5[32 * j + l], "Q5_K sub-block " + j);
                }
        }
    }

    /** Q6_K with d = 0.25, scale_s = s − 8, and every value's 6 bits set to its index mod 64. */
    @Test
    void handBuiltQ6KBlock() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(210);
            for (int e = 0; e < 256; e++) {
                int q = e % 64, half = e / 128, i = e % 128;
                long ql = 64L * half + i % 64, qh = 128 + 32L * half + i % 32;
                int lowShift = 4 * (i / 64), highShift = 2 * (i / 32);
                b.set(QuantBlocks.BYTE, ql, (byte) (QuantBlocks.u8(b, ql) | (q & 0xF) << lowShift));
                b.set(QuantBlocks.BYTE, qh, (byte) (QuantBlocks.u8(b, qh) | (q >> 4) << highShift));
            }
            for (int s = 0; s < 16; s++) b.set(QuantBlocks.BYTE, 192 + s, (byte) (s - 8));
            b.set(QuantBlocks.LE_SHORT, 208, (short) 0x3400);
            float[] v = dequantizeBoth(DType.Q6_K, b, 256);
            for (int e = 0; e < 256; e++) assertEquals(0.25f * (e / 16 - 8) * (e % 64 - 32), v[e], "value " + e);
        }
    }

    /** Vector and scalar results of one row, asserted equal. */
    private static float[] dequantizeBoth(DType type, MemorySegment data, int cols) {
        float[] v = new float[cols], s = new float[cols];
        type.format().dequantizeRow(data, 0, cols, v, 0);
        type.format().dequantizeRowScalar(data, 0, cols, s, 0);
        for (int k = 0; k < cols; k++) assertEquals(Float.floatToRawIntBits(s[k]), Float.floatToRawIntBits(v[k]), type + " value " + k);
        return v;
    }

    @Test
    void partialBlocksAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(1024);
            for (DType type : QuantTestData.TYPES) {
                assertThrows(IllegalArgumentException.class, () -> type.format().dequantizeRow(data, 0, type.blockSize + 1, new float[600], 0));
                assertThrows(IllegalArgumentException.class, () -> new Matrix("w", type, 1, type.blockSize / 2, data));
                assertSame(type, type.format().type());
            }
        }
    }
}
