package moice.eval;

import moice.MoiceException;
import moice.io.AtomicFile;
import moice.io.Json;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * {@code run.json} beside the results: the arguments that decide what the rows mean. A rerun into the same folder
 * resumes only when they are the same; otherwise its rows would mix different experiments.
 */
public final class RunHeader {
    public static final String FILE = "run.json";
    /**
     * The one argument a rerun may raise: sample i of a cell does not depend on how many samples the run asks for
     * (synthetic samples are seeded by their coordinates, data samples are the first N of the file), so more
     * samples add rows without changing the ones already there, and every method still sees the same prompts.
     */
    static final String EXTENDABLE = "samples";

    private RunHeader() {}

    /**
     * Writes {@code arguments} to {@code dir}/run.json, or checks them against the file already there. The only
     * difference allowed is a larger {@code samples}, which extends the run (run.json is then rewritten with it).
     *
     * @param resultsExist whether {@code dir} already holds results (then a missing run.json is an error too)
     * @throws MoiceException naming the first argument that differs
     */
    public static void writeOrCheck(Path dir, Map<String, Object> arguments, boolean resultsExist) {
        Path file = dir.resolve(FILE);
        // normalise through JSON so that numbers compare as the parser reads them back
        Map<String, Object> wanted = Json.object(Json.parse(Json.write(arguments), FILE), FILE);
        if (Files.exists(file)) {
            Map<String, Object> found = Json.object(Json.parseFile(file), file.toString());
            boolean extend = false;
            for (String key : union(wanted, found)) {
                if (Objects.equals(wanted.get(key), found.get(key))) continue;
                if (key.equals(EXTENDABLE) && wanted.get(key) instanceof Number more
                        && found.get(key) instanceof Number before && more.longValue() > before.longValue()) {
                    extend = true;
                    continue;
                }
                throw new MoiceException(dir + ": holds results of a run with different arguments (" + key + ": "
                        + Json.write(found.get(key)) + " there, " + Json.write(wanted.get(key))
                        + " now); rerun with the same arguments to resume"
                        + (key.equals(EXTENDABLE) ? " (or more --samples to extend it)" : "") + ", or use another --out");
            }
            if (!extend) return;
        } else if (resultsExist)
            throw new MoiceException(dir + ": has results.csv but no " + FILE + ", so it cannot be resumed safely; "
                    + "use another --out");
        byte[] bytes = (Json.write(arguments) + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, ch -> ch.write(ByteBuffer.wrap(bytes)));
    }

    private static java.util.Set<String> union(Map<String, Object> a, Map<String, Object> b) {
        java.util.Set<String> keys = new java.util.LinkedHashSet<>(a.keySet());
        keys.addAll(b.keySet());
        return keys;
    }

    /** An ordered map builder for the arguments. */
    public static Map<String, Object> arguments() {
        return new LinkedHashMap<>();
    }
}
