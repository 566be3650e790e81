package moice.eval;

import moice.MoiceException;

import java.util.List;
import java.util.Locale;

/**
 * A task whose samples are generated offline from a seed: each sample fills a context to a length in model tokens
 * (measured with the encoder, the largest fill that fits) and places the answer at a depth.
 */
public interface SyntheticTask {
    /** Task name as the command line spells it. */
    String name();

    /**
     * Sample number {@code index} at {@code length} tokens with the answer at {@code depth} (0 start, 1 end).
     * Deterministic for ({@code seed}, {@code length}, {@code depth}, {@code index}) and the encoder.
     *
     * @throws MoiceException when even the smallest context does not fit in {@code length}
     */
    Sample sample(int length, double depth, int index, long seed, PromptEncoder encoder);

    /** The synthetic tasks by name. */
    List<String> NAMES = List.of("passkey", "kv", "synthetic-qa", "niah");

    /** The task called {@code name} (see {@link #NAMES}). */
    static SyntheticTask named(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "passkey" -> new PasskeyTask();
            case "kv" -> new KvRetrievalTask();
            case "synthetic-qa" -> new SyntheticQaTask();
            case "niah" -> new NeedleTask();
            default -> throw new MoiceException("unknown synthetic task '" + name + "'");
        };
    }

    /** A generator seeded from the run seed and the sample's coordinates, so samples do not depend on run order. */
    static java.util.Random random(long seed, String task, int length, double depth, int index) {
        long h = seed;
        h = h * 1_000_003L + task.hashCode();
        h = h * 1_000_003L + length;
        h = h * 1_000_003L + Double.hashCode(depth);
        h = h * 1_000_003L + index;
        return new java.util.Random(h);
    }
}
