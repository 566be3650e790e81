package moice.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link RowDot#dotRows} (a stored row dotted with several vectors, as batched decode runs it) returns for every vector
 * exactly, bit for bit, what {@link RowDot#dotRow} returns for it alone: Q4_1, which shares each block's
 * dequantisation between three tokens, on random blocks, T = 1..8 (the other formats use the default: dotRow per token).
 */
class RowDotsTest {
    @Test
    void q4_1RowsEqualOneByOne() {
        Random r = new Random(3);
        int cols = 32 * 37, bytes = 20 * 37;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment row = arena.allocate(bytes);
            for (int b = 0; b < 37; b++) {
                row.set(ValueLayout.JAVA_SHORT_UNALIGNED, 20L * b, Float.floatToFloat16((float) (r.nextGaussian() * 0.02)));
                row.set(ValueLayout.JAVA_SHORT_UNALIGNED, 20L * b + 2, Float.floatToFloat16((float) (r.nextGaussian() * 0.1)));
                for (int i = 4; i < 20; i++) row.set(ValueLayout.JAVA_BYTE, 20L * b + i, (byte) r.nextInt(256));
            }
            for (int T = 1; T <= 8; T++) {
                int xStride = cols + 5; // rows of x apart by more than cols, at an offset
                float[] x = new float[3 + T * xStride];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                float[] out = new float[T * 4];
                Q4_1Format.INSTANCE.dotRows(row, 0, cols, x, 3, xStride, T, out, 1, 4);
                for (int t = 0; t < T; t++)
                    assertEquals(Float.floatToRawIntBits(Q4_1Format.INSTANCE.dotRow(row, 0, cols, x, 3 + t * xStride)),
                            Float.floatToRawIntBits(out[1 + t * 4]), "T=" + T + " t=" + t);
            }
        }
    }
}
