package moice.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Exp}: vector and scalar bit-identical at every vector width; accuracy against Math.exp; the clamps. */
class ExpTest {
    @Test
    void vectorEqualsScalarAtEveryWidthAndIsAccurate() {
        SplittableRandom rnd = new SplittableRandom(6);
        float[] x = new float[1 << 16];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextDouble() * 190 - 95);
        float[] special = {0f, -0f, 1f, -1f, 0.5f, -87f, -87.0001f, 88f, 88.5f, -1000f, 1000f, 1e-8f, -1e-8f,
                Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0.34657359f, -0.34657359f, -0.5f, -20f, -103.9f, -104.5f, -87.4f, 88.72f, 88.73f, -126f * 0.6931472f};
        System.arraycopy(special, 0, x, 0, special.length);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float s = Exp.exp(x[i]);
            double ref = Math.exp(x[i]);
            if (ref > Float.MAX_VALUE) assertEquals(Float.POSITIVE_INFINITY, s, "x=" + x[i]);
            else if (ref < Float.MIN_NORMAL) assertTrue(Math.abs(s - ref) <= 4 * 0x1p-24 * ref + 0x1p-150, "x=" + x[i] + ": " + s + " vs " + ref);
            else {
                double rel = Math.abs(s - ref) / ref;
                worst = Math.max(worst, rel);
                assertTrue(rel <= 4 * 0x1p-24, "x=" + x[i] + " relative error " + rel);
            }
        }
        assertTrue(Float.isNaN(Exp.exp(Float.NaN)));
        System.out.printf("Exp: max relative error vs Math.exp %.2e (%.2f ulp of 2^-24)%n", worst, worst / 0x1p-24);
        for (VectorSpecies<Float> species : new VectorSpecies[]{FloatVector.SPECIES_128, FloatVector.SPECIES_256,
                FloatVector.SPECIES_512, FloatVector.SPECIES_PREFERRED}) {
            float[] v = new float[x.length];
            for (int i = 0; i + species.length() <= x.length; i += species.length())
                Exp.exp(FloatVector.fromArray(species, x, i)).intoArray(v, i);
            for (int i = 0; i < x.length; i++)
                assertEquals(Float.floatToRawIntBits(Exp.exp(x[i])), Float.floatToRawIntBits(v[i]),
                        species + " x=" + x[i]);
        }
    }
}
