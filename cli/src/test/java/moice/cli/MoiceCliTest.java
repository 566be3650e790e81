package moice.cli;

import moice.Bounds;
import moice.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The --method / --moice flags of forward: defaults, conflicts, and routers that do not fit the model. */
class MoiceCliTest {
    static final Path MODEL = Path.of("src/test/resources/models/llama-gqa");
    static final Path FIXTURE = Path.of("src/test/resources/moice/llama-gqa");

    @TempDir
    Path tmp;

    @Test
    void methodFlagSelectsTheVariant() {
        Path plain = forward("a"), vanilla = forward("b", "--method", "vanilla"),
                viaMoice = forward("c", "--moice", FIXTURE.resolve("routers.safetensors").toString()),
                explicit = forward("d", "--method", "moice", "--moice", FIXTURE.resolve("routers.safetensors").toString());
        Bounds.assertSameBits(logits(plain), logits(vanilla), "--method vanilla");
        Bounds.assertSameBits(logits(viaMoice), logits(explicit), "--method moice --moice R");
        double moved = maxDiff(logits(plain), logits(viaMoice));
        assertTrue(moved > 0.1, "MoICE must change the logits: " + moved);
    }

    @Test
    void badFlagsAreOneLineErrors() {
        String routers = FIXTURE.resolve("routers.safetensors").toString();
        fails("--method moice needs --moice ROUTERS", "--method", "moice");
        fails("conflicts with --method vanilla", "--method", "vanilla", "--moice", routers);
        fails("unknown attention method 'foo'", "--method", "foo");
        fails("absent.safetensors", "--moice", tmp.resolve("absent.safetensors").toString());
    }

    @Test
    void routersOfAnotherModelAreRejected() {
        // mistral-mqa has head_dim 24; llama-gqa's routers are [7, 16]
        CliTest.Run r = CliTest.run("forward", "--model", "src/test/resources/models/mistral-mqa",
                "--tokens", MODEL.resolve("tokens.json").toString(), "--out", tmp.resolve("x.safetensors").toString(),
                "--moice", FIXTURE.resolve("routers.safetensors").toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("'model.layers.0.self_attn.gate_1.weight' has 16 columns; the model's head_dim is 24"),
                r.err());
    }

    private void fails(String fragment, String... extra) {
        String[] args = concat(new String[]{"forward", "--model", MODEL.toString(), "--tokens",
                MODEL.resolve("tokens.json").toString(), "--out", tmp.resolve("x.safetensors").toString()}, extra);
        CliTest.Run r = CliTest.run(args);
        assertEquals(1, r.code(), r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line: " + err);
        assertTrue(err.startsWith("moice: ") && err.contains(fragment), err);
    }

    private Path forward(String name, String... extra) {
        Path out = tmp.resolve(name + ".safetensors");
        String[] args = concat(new String[]{"forward", "--model", MODEL.toString(), "--tokens",
                FIXTURE.resolve("tokens.json").toString(), "--out", out.toString()}, extra);
        CliTest.Run r = CliTest.run(args);
        assertEquals(0, r.code(), r.err());
        return out;
    }

    private static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }

    private static float[] logits(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] s = st.shape("logits");
            return st.matrix("logits", (int) s[0], (int) s[1]).toFloats();
        }
    }
}
