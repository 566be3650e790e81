package moice.attention;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The fractional-position tables Ms-PoE rotates with: angle (p / r)·invFreq, the model's scaling kept. */
class RopePositionRatioTest {
    static final RopeScaling NONE = RopeScaling.NONE;

    @Test
    void entryHoldsTheFractionalAngle() {
        Rope plain = Rope.of(10000, 16, NONE, 128, 64);
        Rope scaled = plain.withPositionRatio(1.35);
        scaled.ensure(50);
        float[] inv = plain.invFreq();
        for (int p = 0; p < 50; p++)
            for (int i = 0; i < 8; i++) {
                float angle = (float) (p / 1.35 * inv[i]);
                assertEquals((float) Math.cos(angle), scaled.cos()[p * 8 + i], 0f);
                assertEquals((float) Math.sin(angle), scaled.sin()[p * 8 + i], 0f);
            }
    }

    /** Ratio 2 at position 2p is plain RoPE at p, and ratio 1 is plain RoPE: both exact in float32. */
    @Test
    void integerRatiosReduceToPlainPositions() {
        Rope plain = Rope.of(10000, 16, NONE, 128, 64);
        plain.ensure(40);
        Rope half = plain.withPositionRatio(2), same = plain.withPositionRatio(1);
        half.ensure(80);
        same.ensure(40);
        for (int p = 0; p < 40; p++)
            for (int i = 0; i < 8; i++) {
                assertEquals(plain.cos()[p * 8 + i], half.cos()[2 * p * 8 + i], 0f);
                assertEquals(plain.sin()[p * 8 + i], half.sin()[2 * p * 8 + i], 0f);
            }
        assertArrayEquals(java.util.Arrays.copyOf(plain.cos(), 320), java.util.Arrays.copyOf(same.cos(), 320));
    }

    /** The provider keeps the ratio across rebuilds (dynamic NTK rebuilds the rope when the sequence grows). */
    @Test
    void providerAppliesTheRatio() {
        RopeScaling dynamic = new RopeScaling("dynamic", 2, 0, 0, 0, 0, 0, 0, false);
        RopeProvider p = new RopeProvider(10000, 16, dynamic, 32, 1.5);
        Rope longer = p.forLength(100);
        assertEquals(1.5, longer.positionRatio());
        assertArrayEquals(Rope.of(10000, 16, dynamic, 32, 100).invFreq(), longer.invFreq());
    }
}
