package moice.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import moice.MoiceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Any file either opens (and every tensor can be viewed and read) or fails with a one-line {@link MoiceException};
 * never another exception. A seeded mutation loop over a real checkpoint always runs (bounded: 1,500 files); a
 * Jazzer {@code @FuzzTest} fuzzes coverage-guided when {@code JAZZER_FUZZ=1}.
 */
class SafeTensorsFuzzTest {
    static final Path SEED = Path.of("src/test/resources/models/llama-bf16-sharded/model-00002-of-00002.safetensors");

    @TempDir
    static Path tmp;

    static boolean openOrReject(byte[] bytes) throws IOException {
        Path file = Files.createTempFile(tmp, "fuzz", ".safetensors");
        Files.write(file, bytes);
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String name : st.names()) {
                long[] shape = st.shape(name);
                try {
                    st.dtype(name);
                } catch (MoiceException unsupportedType) {
                    continue;
                }
                if (shape.length == 2 && shape[0] > 0 && shape[1] > 0 && shape[0] < 1 << 20 && shape[1] < 1 << 20) {
                    float[] row = new float[(int) shape[1]];
                    st.matrix(name, (int) shape[0], (int) shape[1]).row((int) shape[0] - 1, row, 0);
                } else if (shape.length == 1 && shape[0] > 0 && shape[0] < 1 << 20) {
                    st.matrix(name, 1, (int) shape[0]).toFloats();
                }
            }
            return true;
        } catch (MoiceException expected) {
            if (expected.getMessage().contains("\n")) fail("multi-line message: " + expected.getMessage());
            return false;
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void seededMutationsOpenOrFailCleanly() throws IOException {
        byte[] seed = Files.readAllBytes(SEED);
        int headerEnd = 8 + (int) java.nio.ByteBuffer.wrap(seed).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0);
        SplittableRandom random = new SplittableRandom(0x5afe);
        int opened = 0, iterations = 1500;
        for (int i = 0; i < iterations; i++) {
            byte[] b = seed.clone();
            int edits = 1 + random.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int at = random.nextInt(i % 5 == 0 ? 8 : headerEnd);
                switch (random.nextInt(4)) {
                    case 0 -> b[at] = (byte) random.nextInt(256);
                    case 1 -> b[at] = (byte) "0123456789[],:\"{} ".charAt(random.nextInt(18));
                    case 2 -> b[at] ^= (byte) (1 << random.nextInt(8));
                    default -> b = java.util.Arrays.copyOf(b, Math.max(0, b.length - 1 - random.nextInt(64)));
                }
                if (at >= b.length) break;
            }
            try {
                if (openOrReject(b)) opened++;
            } catch (Throwable t) {
                throw new AssertionError("iteration " + i + ": " + t, t);
            }
        }
        assertTrue(opened > 0 && opened < iterations, "opened " + opened + " of " + iterations);
    }

    @FuzzTest(maxDuration = "20s")
    @EnabledIfEnvironmentVariable(named = "JAZZER_FUZZ", matches = "1")
    void jazzer(byte[] data) throws IOException {
        openOrReject(data);
    }
}
