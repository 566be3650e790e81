package moice.io.gguf;

import moice.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bin/moice convert}: weights re-encoded exactly (F32) or within Q8_0's rounding bound; metadata kept. */
class GgufConverterTest {
    static final Path SOURCE = Path.of("src/test/resources/gguf/all_types_v3.gguf");

    @TempDir
    Path tmp;

    @Test
    void toF32KeepsEveryValueAndKey() {
        Path out = tmp.resolve("f32.gguf");
        assertEquals(0, Main.run("convert", "--model", SOURCE.toString(), "--type", "f32", "--out", out.toString()));
        try (GgufFile in = GgufFile.open(SOURCE); GgufFile conv = GgufFile.open(out)) {
            for (String key : in.metadata().keys())
                if (!key.equals("general.file_type"))
                    assertEquals(in.metadata().describe(key), conv.metadata().describe(key), key);
            assertEquals(0, conv.metadata().integer("general.file_type"));
            for (GgufTensor t : in.tensors()) {
                if (!t.type().dequantSupported()) continue;
                GgufTensor c = conv.tensor(t.name());
                if (t.nDims() == 2) assertEquals(GgufType.F32, c.type(), t.name());
                assertEquals(java.util.Arrays.toString(t.dims()), java.util.Arrays.toString(c.dims()));
                float[] a = t.toFloats(), b = c.toFloats();
                for (int i = 0; i < a.length; i++)
                    assertEquals(Float.floatToIntBits(a[i]), Float.floatToIntBits(b[i]), t.name() + "[" + i + "]");
            }
        }
    }

    @Test
    void toQ8_0StaysWithinTheRoundingBound() {
        Path out = tmp.resolve("q8.gguf");
        assertEquals(0, Main.run("convert", "--model", SOURCE.toString(), "--type", "q8_0", "--out", out.toString()));
        try (GgufFile in = GgufFile.open(SOURCE); GgufFile conv = GgufFile.open(out)) {
            for (GgufTensor t : in.tensors()) {
                if (!t.type().dequantSupported() || t.nDims() != 2) continue;
                GgufTensor c = conv.tensor(t.name());
                assertEquals(GgufType.Q8_0, c.type(), t.name());
                float[] a = t.toFloats(), b = c.toFloats();
                for (int blk = 0; blk < a.length; blk += 32) {
                    float amax = 0;
                    for (int i = blk; i < blk + 32; i++) amax = Math.max(amax, Math.abs(a[i]));
                    if (amax / 127f > 65504f) continue; // the block scale overflows f16: Q8_0 cannot hold it (as in ggml)
                    // |x - q·d16| ≤ d/2 + 127·|d16 - d|, where d16 is the scale as stored (f16)
                    float d = amax / 127f, d16 = Float.float16ToFloat(Float.floatToFloat16(d));
                    float bound = (d / 2 + 127 * Math.abs(d16 - d)) * 1.001f + 1e-30f;
                    for (int i = blk; i < blk + 32; i++)
                        assertTrue(Math.abs(a[i] - b[i]) <= bound, t.name() + "[" + i + "]: " + a[i] + " vs " + b[i]);
                }
            }
        }
    }
}
