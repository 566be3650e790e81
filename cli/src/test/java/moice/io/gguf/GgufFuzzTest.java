package moice.io.gguf;

import com.code_intelligence.jazzer.junit.FuzzTest;
import moice.MoiceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Any input either parses (and its tensors can be read) or fails with a {@link MoiceException}; never another
 * exception or error. Two drivers: a seeded mutation loop over the fixtures that always runs, and a Jazzer
 * {@code @FuzzTest} that fuzzes, coverage-guided, when {@code JAZZER_FUZZ=1} is set.
 */
class GgufFuzzTest {
    private static final int ITERATIONS = 10_000;

    /**
     * Parses {@code bytes}; on success touches every metadata value and every tensor's data as a loader would.
     * Returns whether it parsed.
     */
    static boolean parseOrReject(byte[] bytes) {
        GgufFile f;
        try {
            f = GgufFile.parse(MemorySegment.ofArray(bytes), "fuzz.gguf");
        } catch (MoiceException expected) {
            if (expected.getMessage().contains("\n")) fail("multi-line message: " + expected.getMessage());
            return false;
        }
        for (String key : f.metadata().keys()) {
            f.metadata().describe(key);
            if (f.metadata().value(key) instanceof GgufArray a) touch(a);
        }
        float[] row = new float[0];
        for (GgufTensor t : f.tensors()) {
            if (t.byteSize() > 0) t.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, t.byteSize() - 1);
            if (!t.type().dequantSupported() || t.rowLength() > 1 << 16 || t.rowCount() == 0) continue;
            if (row.length < t.rowLength()) row = new float[(int) t.rowLength()];
            t.dequantizeRow(t.rowCount() - 1, row, 0);
        }
        return true;
    }

    private static void touch(GgufArray a) {
        switch (a.elementType()) {
            case STRING -> a.strings();
            case ARRAY -> a.arrays().forEach(GgufFuzzTest::touch);
            case BOOL -> a.booleans();
            case FLOAT32, FLOAT64 -> a.doubles();
            default -> a.longs();
        }
    }

    @Test
    void seededMutationsParseOrFailCleanly() throws IOException {
        byte[][] seeds = {
                Files.readAllBytes(GgufFixtureTest.resource("small_v2.gguf")),
                Files.readAllBytes(GgufFixtureTest.resource("all_types_v3.gguf")),
        };
        SplittableRandom random = new SplittableRandom(0x6067);
        int parsed = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] seed = seeds[i % 4 == 0 ? 1 : 0];
            // Mutations land in the header most of the time: that is where the parser's decisions are.
            long headerEnd = Math.min(seed.length, i % 4 == 0 ? 8832 : 320);
            byte[] b = mutate(seed, headerEnd, random);
            try {
                if (parseOrReject(b)) parsed++;
            } catch (Throwable t) {
                throw new AssertionError("iteration " + i + ": " + t + " for input " + hex(b, headerEnd), t);
            }
        }
        // The loop must explore both sides, or it tests nothing.
        assertTrue(parsed > ITERATIONS / 50 && parsed < ITERATIONS - ITERATIONS / 50, "parsed " + parsed + " of " + ITERATIONS);
    }

    /** One to four edits: random bytes, interesting 64-bit values at 8-byte-ish offsets, truncation or extension. */
    static byte[] mutate(byte[] seed, long headerEnd, SplittableRandom random) {
        byte[] b = seed.clone();
        int edits = 1 + random.nextInt(4);
        for (int e = 0; e < edits; e++) {
            int at = random.nextInt((int) headerEnd);
            switch (random.nextInt(6)) {
                case 0 -> b[at] = (byte) random.nextInt(256);
                case 1 -> b[at] ^= (byte) (1 << random.nextInt(8));
                case 2 -> {
                    long[] interesting = {0, 1, 2, 3, 4, 5, 13, 31, 32, 33, 0x7f, 0xff, 0x100, 1L << 31, 1L << 32, 1L << 40,
                            Long.MAX_VALUE, Long.MIN_VALUE, -1, -32, b.length, b.length - at};
                    long v = interesting[random.nextInt(interesting.length)];
                    for (int k = 0; k < 8 && at + k < b.length; k++) b[at + k] = (byte) (v >>> (8 * k));
                }
                case 3 -> b = Arrays.copyOf(b, random.nextInt(b.length + 1));
                case 4 -> b = Arrays.copyOf(b, b.length + random.nextInt(64));
                default -> { // copy a run of the file over another place (moves lengths and counts around)
                    int from = random.nextInt(b.length);
                    System.arraycopy(b, from, b, at, random.nextInt(1 + Math.min(b.length - from, b.length - at)));
                }
            }
            if (b.length == 0) break;
            headerEnd = Math.min(headerEnd, b.length);
        }
        return b;
    }

    private static String hex(byte[] b, long headerEnd) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, Math.min(headerEnd, 512)); i++) s.append(String.format("%02x", b[i]));
        return s + (b.length > 512 ? "... (" + b.length + " bytes)" : "");
    }

    /**
     * Jazzer entry point, run on demand: {@code JAZZER_FUZZ=1 mvn test -Dtest='GgufFuzzTest#jazzer'} fuzzes for 20 s
     * (coverage-guided, seeded from {@code GgufFuzzTestInputs/jazzer/}; findings are written there as new inputs).
     * Skipped otherwise, because even replaying its corpus installs Jazzer's agent, which costs a normal run ~10-20 s;
     * the seeded loop above covers the every-run case.
     */
    @FuzzTest(maxDuration = "20s")
    @EnabledIfEnvironmentVariable(named = "JAZZER_FUZZ", matches = ".+")
    void jazzer(byte[] data) {
        parseOrReject(data);
    }
}
