package moice.cli;

import moice.Bounds;
import moice.attention.Routers;
import moice.io.HfConfig;
import moice.io.RouterFile;
import moice.io.SafeTensors;
import moice.io.SafeTensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Official MoICE checkpoints (config.json with base_set / expert_nums / topk, router gates inside the model's
 * safetensors), built here from models/llama-gqa and the routers of the moice/llama-gqa fixture: {@code forward}
 * runs MoICE by default and matches the PyTorch MoICE logits, {@code --method vanilla} matches the transformers
 * logits, {@code --moice R} replaces the built-in routers, and malformed checkpoints give one-line errors.
 */
class MoiceCheckpointTest {
    static final Path MODEL = Path.of("src/test/resources/models/llama-gqa");
    static final Path FIXTURE = Path.of("src/test/resources/moice/llama-gqa");
    static final String BASE_SET = "[10000, 17500, 18000, 19000, 20000, 22500, 25000]";
    static final double BOUND = Bounds.forwardPass(MODEL, FIXTURE.resolve("tokens.json"));

    @TempDir
    Path tmp;

    @Test
    void officialCheckpointRunsMoiceByDefault() throws IOException {
        Path dir = checkpoint("official", BASE_SET, 7, 3, Set.of());
        float[] moice = forward(dir, "moice");
        Bounds.assertWithin(logits(FIXTURE.resolve("logits.safetensors")), moice, BOUND,
                "built-in MoICE vs the PyTorch MoICE reference");
        float[] explicit = forward(dir, "explicit", "--method", "moice");
        Bounds.assertSameBits(moice, explicit, "--method moice");
    }

    @Test
    void methodVanillaSwitchesTheBuiltInRoutersOff() throws IOException {
        Path dir = checkpoint("official", BASE_SET, 7, 3, Set.of());
        float[] vanilla = forward(dir, "vanilla", "--method", "vanilla");
        Bounds.assertWithin(logits(MODEL.resolve("logits.safetensors")), vanilla, BOUND,
                "--method vanilla vs the transformers reference");
    }

    @Test
    void moiceFlagOverridesTheBuiltInRouters() throws IOException {
        Path dir = checkpoint("official", BASE_SET, 7, 3, Set.of());
        Routers other = Routers.random(new double[]{10000, 30000}, 1, 16, 2, 0.5, 11);
        Path file = tmp.resolve("other.safetensors");
        RouterFile.write(other, file);
        float[] overridden = forward(dir, "overridden", "--moice", file.toString());
        float[] onPlainModel = forward(MODEL, "plain", "--moice", file.toString());
        Bounds.assertSameBits(onPlainModel, overridden, "--moice R wins over the built-in routers");
        assertTrue(Bounds.relativeMaxError(logits(FIXTURE.resolve("logits.safetensors")), overridden) > 10 * BOUND,
                "the other routers must change the logits");
    }

    @Test
    void benchRunsTheBuiltInRoutersByDefault() throws IOException {
        Path dir = checkpoint("official", BASE_SET, 7, 3, Set.of());
        CliTest.Run r = CliTest.run("bench", "--model", dir.toString(), "--prefill", "8", "--decode", "2",
                "--repeats", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("| moice ") && !r.out().contains("| vanilla "), r.out());
        r = CliTest.run("bench", "--model", dir.toString(), "--prefill", "8", "--decode", "2", "--repeats", "1",
                "--method", "vanilla,moice");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("| moice ") && r.out().contains("| vanilla "), r.out());
    }

    @Test
    void benchAlternatesExtraRouterFilesAndRotatedCopies() {
        String routers = FIXTURE.resolve("routers.safetensors").toString();
        CliTest.Run r = CliTest.run("bench", "--model", MODEL.toString(), "--prefill", "20", "--decode", "2",
                "--repeats", "1", "--method", "vanilla,moice", "--moice", routers, "--moice-also", routers,
                "--rotated-key-copies", "--decode-context", "5");
        assertEquals(0, r.code(), r.err());
        for (String m : java.util.List.of("vanilla", "moice", "moice+copies", "moice routers.safetensors",
                "moice routers.safetensors+copies"))
            for (String test : java.util.List.of("prefill 20", "decode 2 @5"))
                assertTrue(r.out().lines().anyMatch(l -> l.startsWith("| " + m + " ") && l.contains(test)),
                        m + " " + test + " in\n" + r.out());
        assertTrue(r.out().contains("rotated key copies held by a +copies method"), r.out());
    }

    @Test
    void routingStatsUseTheBuiltInRouters() throws IOException {
        Path dir = checkpoint("official", BASE_SET, 7, 3, Set.of());
        Path builtIn = tmp.resolve("builtin.csv"), fromFile = tmp.resolve("file.csv");
        forward(dir, "a", "--routing-stats", builtIn.toString());
        forward(MODEL, "b", "--moice", FIXTURE.resolve("routers.safetensors").toString(), "--routing-stats",
                fromFile.toString());
        assertEquals(Files.readString(fromFile), Files.readString(builtIn));
    }

    @Test
    void hfConfigIgnoresTheMoiceKeys() throws IOException {
        Path dir = checkpoint("official", BASE_SET, 7, 3, Set.of());
        assertEquals(HfConfig.load(MODEL.resolve("config.json")), HfConfig.load(dir.resolve("config.json")));
    }

    @Test
    void expertNumsMustMatchBaseSet() throws IOException {
        Path dir = checkpoint("experts", BASE_SET, 5, 3, Set.of());
        fails(dir, "config.json: 'expert_nums' is 5 but 'base_set' lists 7 bases");
    }

    @Test
    void topkMustNotExceedTheExperts() throws IOException {
        Path dir = checkpoint("topk", BASE_SET, 7, 8, Set.of());
        fails(dir, "config.json: 'topk' is 8; expected an integer in [1, 7]");
    }

    @Test
    void missingGateTensor() throws IOException {
        String gate = Routers.tensorName(1, 2);
        Path dir = checkpoint("missing", BASE_SET, 7, 3, Set.of(gate));
        fails(dir, "tensor '" + gate + "' is missing");
    }

    @Test
    void basesAreCheckedAsInRouterFiles() throws IOException {
        fails(checkpoint("repeat", "[10000, 17500, 10000]", 3, 1, Set.of()),
                "config.json: 'base_set' element 2 (10000.0) repeats an earlier base");
        fails(checkpoint("negative", "[10000, -1]", 2, 1, Set.of()),
                "config.json: 'base_set' element 1 (-1.0) is not a positive RoPE base");
    }

    @Test
    void incompleteMoiceConfig() throws IOException {
        Path dir = checkpoint("incomplete", BASE_SET, 7, 3, Set.of());
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"topk\": 3,", ""));
        fails(dir, "config.json: 'topk' is missing");
    }

    @Test
    void routerShapeMustFitTheModel() throws IOException {
        // three bases in config.json, seven rows in the gates
        Path dir = checkpoint("shape", "[10000, 17500, 18000]", 3, 1, Set.of());
        fails(dir, "tensor '" + Routers.tensorName(0, 1) + "' has shape [7, 16]; expected [3, 16]");
    }

    /**
     * models/llama-gqa with the fixture's gates added to its safetensors (minus {@code omit}) and the MoICE keys put in
     * front of config.json's own; {@code baseSet} is written verbatim.
     */
    private Path checkpoint(String name, String baseSet, int experts, int topK, Set<String> omit) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        String config = Files.readString(MODEL.resolve("config.json")).strip();
        assertTrue(config.startsWith("{"));
        Files.writeString(dir.resolve("config.json"), "{\"base_set\": " + baseSet + ", \"expert_nums\": " + experts
                + ", \"topk\": " + topK + "," + config.substring(1));
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (Path source : new Path[]{MODEL.resolve("model.safetensors"), FIXTURE.resolve("routers.safetensors")})
            try (SafeTensors st = SafeTensors.open(source)) {
                for (String t : st.names()) {
                    if (omit.contains(t)) continue;
                    long[] shape = st.shape(t);
                    int rows = shape.length == 1 ? 1 : (int) shape[0], cols = (int) shape[shape.length - 1];
                    w.addF32(t, st.matrix(t, rows, cols).toFloats(), shape);
                }
            }
        w.write(dir.resolve("model.safetensors"));
        return dir;
    }

    private float[] forward(Path model, String name, String... extra) {
        CliTest.Run r = CliTest.run(forwardArgs(model, name, extra));
        assertEquals(0, r.code(), r.err());
        return logits(tmp.resolve(name + ".safetensors"));
    }

    private void fails(Path model, String fragment) {
        for (String[] extra : new String[][]{{}, {"--method", "vanilla"}}) {
            CliTest.Run r = CliTest.run(forwardArgs(model, "x", extra));
            assertEquals(1, r.code(), r.err());
            String err = r.err().strip();
            assertFalse(err.contains("\n"), "one line: " + err);
            assertTrue(err.startsWith("moice: ") && err.contains(fragment), err);
        }
    }

    private String[] forwardArgs(Path model, String name, String... extra) {
        String[] base = {"forward", "--model", model.toString(), "--tokens", FIXTURE.resolve("tokens.json").toString(),
                "--out", tmp.resolve(name + ".safetensors").toString()};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return args;
    }

    static float[] logits(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] s = st.shape("logits");
            return st.matrix("logits", (int) s[0], (int) s[1]).toFloats();
        }
    }
}
