package moice.attention;

import moice.tensor.Exp;
import moice.tensor.VectorKernels;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The float kernels give the same bits whichever way the JVM runs them: a digest of their results on large random
 * inputs, computed here after the JIT has compiled them (many warm-up rounds), equals the digest a child JVM computes
 * in the pure interpreter ({@code -Xint}, where the Vector API runs its Java fallbacks). With the Vector API's own
 * {@code EXP} in the attention exp ({@link MixedExpertAttention#expInPlace}) the digests differ; with {@link Exp} they
 * agree.
 */
class JitTierTest {
    @Test
    void kernelsGiveTheSameBitsInterpretedAndCompiled() throws Exception {
        long compiled = 0;
        for (int round = 0; round < 40; round++) compiled = digest();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = Files.createTempFile("jit-tier", ".log");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xint", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Child.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "the interpreted child did not finish");
        String out = Files.readString(log).strip();
        assertEquals(0, p.exitValue(), out);
        String last = out.lines().reduce((a, b) -> b).orElse("");
        assertEquals(Long.toHexString(compiled), last, "kernel digest: compiled vs interpreted");
        Files.deleteIfExists(log);
    }

    /** Runs the kernels on fixed random inputs and hashes every output bit. */
    static long digest() {
        SplittableRandom rnd = new SplittableRandom(42);
        int n = 1 << 14;
        float[] gate = new float[n], up = new float[n], out = new float[n];
        for (int i = 0; i < n; i++) {
            gate[i] = (float) (rnd.nextGaussian() * 40); // exps down to the subnormal range and past it
            up[i] = (float) rnd.nextGaussian();
        }
        long h = 1469598103934665603L;
        VectorKernels.siluMul(gate, 0, up, 0, out, 0, n);
        h = mix(h, out);
        float[] x = gate.clone();
        for (int o = 0; o + 1000 <= n; o += 1000) VectorKernels.softmax(x, o, 1000);
        h = mix(h, x);
        float[] norm = new float[n];
        float[] weight = new float[1000];
        for (int i = 0; i < weight.length; i++) weight[i] = (float) rnd.nextGaussian();
        for (int o = 0; o + 1000 <= n; o += 1000) VectorKernels.rmsnorm(gate, o, weight, norm, o, 1000, 1e-5f);
        h = mix(h, norm);
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) scores[i] = (float) (rnd.nextGaussian() * 30);
        float[] sums = new float[n / 1000];
        for (int o = 0, k = 0; o + 1000 <= n; o += 1000, k++) {
            float max = VectorKernels.max(scores, o, 1000);
            sums[k] = MixedExpertAttention.expInPlace(scores, o, o + 1000, max);
        }
        h = mix(h, scores);
        h = mix(h, sums);
        float[] dots = new float[16];
        for (int i = 0; i < dots.length; i++) dots[i] = VectorKernels.dot(gate, i * 1000, up, i * 7, 999);
        return mix(h, dots);
    }

    private static long mix(long h, float[] values) {
        for (float v : values) h = (h ^ Float.floatToRawIntBits(v)) * 1099511628211L;
        return h;
    }

    /** The interpreted side: prints the digest. */
    public static final class Child {
        public static void main(String[] args) {
            System.out.println(Long.toHexString(digest()));
        }
    }
}
