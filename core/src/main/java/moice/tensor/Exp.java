package moice.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code e^x} in float32 from additions, multiplications and fused multiply-adds only — operations that Java rounds
 * exactly, in the interpreter and in every JIT tier alike — so the same input gives the same bits whenever and
 * however the code runs. The Vector API's own {@code EXP} does not: compiled code calls an intrinsic, uncompiled code
 * a Java fallback, and they may round differently, which made the same command give different logits run to run.
 * Every exp on the engine's float path (softmax, SwiGLU, attention, training) goes through here.
 *
 * <p>Method: {@code e^x = 2^n·e^r} with {@code n = round(x·log2 e)}, {@code r = x − n·ln 2} (ln 2 in two parts, so
 * {@code n·LN2_HI} is exact), {@code e^r} by its degree-7 Taylor polynomial ({@code |r| ≤ ln2/2}: truncation error
 * below 5e-9 relative), and {@code 2^n} applied as two exact power-of-two factors, so results that overflow become
 * +inf and results below float's normal range round as IEEE does. Accuracy: within 4·2^-24 relative of
 * {@link Math#exp} (1.2·2^-24 measured) wherever the result is a normal float, and within that plus half a
 * subnormal step below it (test: {@code ExpTest}); {@code e^-inf = 0}, {@code e^+inf = +inf}, NaN stays NaN. The vector form is
 * bit-identical to the scalar one on every vector width.
 */
public final class Exp {
    private static final float LOG2E = 1.44269504f, ROUND = 12582912f; // 1.5·2^23: adding it rounds to an integer
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** Inputs are clamped to this range, beyond which the result is 0 or +inf anyway; it keeps n within ±150. */
    private static final float LO = -104f, HI = 89f;
    private static final float[] TAYLOR = {1f / 5040, 1f / 720, 1f / 120, 1f / 24, 1f / 6, 0.5f, 1f, 1f};

    private Exp() {}

    /** {@code e^x} lane-wise; bit-identical to {@link #exp(float)} on each lane. */
    public static FloatVector exp(FloatVector x) {
        x = x.min(HI).max(LO);
        FloatVector t = x.fma(LOG2E, ROUND), nf = t.sub(ROUND);
        FloatVector r = nf.fma(x.broadcast(-LN2_HI), x);
        r = nf.fma(x.broadcast(-LN2_LO), r);
        // unrolled: a vector carried around a loop is boxed (allocated) by the JIT; straight-line code stays in registers
        FloatVector p = r.fma(x.broadcast(TAYLOR[0]), x.broadcast(TAYLOR[1]));
        p = p.fma(r, x.broadcast(TAYLOR[2]));
        p = p.fma(r, x.broadcast(TAYLOR[3]));
        p = p.fma(r, x.broadcast(TAYLOR[4]));
        p = p.fma(r, x.broadcast(TAYLOR[5]));
        p = p.fma(r, x.broadcast(TAYLOR[6]));
        p = p.fma(r, x.broadcast(TAYLOR[7]));
        IntVector n = t.reinterpretAsInts().sub(ROUND_BITS), half = n.lanewise(VectorOperators.ASHR, 1);
        FloatVector s1 = half.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n.sub(half).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2);
    }

    /** {@code e^x}; the scalar twin of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        x = Math.max(Math.min(x, HI), LO);
        float t = Math.fma(x, LOG2E, ROUND), nf = t - ROUND;
        float r = Math.fma(nf, -LN2_HI, x);
        r = Math.fma(nf, -LN2_LO, r);
        float p = TAYLOR[0];
        for (int i = 1; i < TAYLOR.length; i++) p = Math.fma(p, r, TAYLOR[i]);
        int n = Float.floatToRawIntBits(t) - ROUND_BITS, half = n >> 1;
        return p * Float.intBitsToFloat((half + 127) << 23) * Float.intBitsToFloat((n - half + 127) << 23);
    }
}
