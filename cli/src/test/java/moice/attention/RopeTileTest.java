package moice.attention;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tile-transposed rope tables and the vector tile rotation against the per-key scalar rotation the attention
 * kernels used before: the same bits, for both layouts, tables grown in steps and positions past the first tiles.
 */
class RopeTileTest {
    private static final int TILE = Rope.TILE;

    @ParameterizedTest
    @CsvSource({"8, HALF_SPLIT, 1.0", "64, HALF_SPLIT, 1.0", "64, INTERLEAVED, 1.0", "10, INTERLEAVED, 1.0",
            "24, HALF_SPLIT, 1.7"})
    void tileRotationEqualsPerKeyRotation(int d, RopeLayout layout, double ratio) {
        Random rnd = new Random(d);
        Rope rope = Rope.of(10000, d, RopeScaling.NONE, 4096, 300).withPositionRatio(ratio);
        rope.ensure(300);
        rope.ensureTiles(70);   // grown in two steps: the tile tables must continue the first tiles correctly
        rope.ensureTiles(300);
        int half = d / 2;
        for (int p = 0; p < 300; p++)
            for (int i = 0; i < half; i++) {
                int o = (p / TILE * half + i) * TILE + p % TILE;
                assertEquals(rope.cos()[p * half + i], rope.cosTiles()[o], 0f, "cos " + p + "," + i);
                assertEquals(rope.sin()[p * half + i], rope.sinTiles()[o], 0f, "sin " + p + "," + i);
            }

        int kvHeads = 2, kvDim = kvHeads * d;
        float[] keys = CausalAttentionTest.random(rnd, 300 * kvDim);
        for (int g = 0; g < kvHeads; g++)
            for (int kb = 0; kb < 300; kb += TILE) {
                int p0 = kb == 256 ? 261 : kb, p1 = Math.min(kb + TILE, 300); // a partial first and last tile
                float[] raw = new float[d * TILE], tiled = new float[d * TILE], expected = new float[d * TILE];
                RopeKernels.transposeTile(keys, kvDim, g * d, d, kb, p0, p1, raw);
                RopeKernels.rotateTile(raw, kb / TILE, rope, layout, tiled);
                for (int p = p0; p < p1; p++) {
                    RopeKernels.rotateInto(keys, p * kvDim + g * d, p, rope, layout, expected, TILE, p - kb);
                    for (int c = 0; c < d; c++)
                        assertEquals(expected[c * TILE + p - kb], tiled[c * TILE + p - kb], 0f,
                                "head " + g + " position " + p + " dim " + c);
                }
            }
    }
}
