package moice.cli;

import moice.attention.Routers;
import moice.io.RouterFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code chat --moice R / --method}: the same attention as {@code generate}, turn after turn. */
class ChatAttentionTest {
    @TempDir
    static Path tmp;
    static Path model, routers;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyChatModel.write(tmp.resolve("tiny"));
        routers = tmp.resolve("routers.safetensors");
        RouterFile.write(Routers.random(new double[]{10000, 20000, 40000}, 2, TinyChatModel.HEAD_DIM,
                TinyChatModel.LAYERS, 0.5, 5), routers);
    }

    @Test
    void chatTurnEqualsGenerateWithTheSameMethod() {
        String[] flags = {"--max-tokens", "8", "--moice", routers.toString()};
        CliTest.Run chat = chat("Hi there\n/exit\n", flags);
        assertEquals(0, chat.code(), chat.err());
        CliTest.Run generate = CliTest.run(concat(new String[]{"generate", "--model", model.toString(), "--chat",
                "--prompt", "Hi there"}, flags));
        assertEquals(0, generate.code(), generate.err());
        assertEquals(generate.out(), chat.out(), "one chat turn is generate --chat with the same attention");
        CliTest.Run vanilla = chat("Hi there\n/exit\n", "--max-tokens", "8");
        assertEquals(0, vanilla.code(), vanilla.err());
        assertNotEquals(vanilla.out(), chat.out(), "--moice must change what the model says");
        CliTest.Run explicitVanilla = chat("Hi there\n/exit\n", "--max-tokens", "8", "--method", "vanilla");
        assertEquals(vanilla.out(), explicitVanilla.out());
    }

    @Test
    void multiTurnWithMoice() {
        CliTest.Run r = chat("Hi there\n/reset\nHello\nAnd again?\n/exit\n", "--max-tokens", "3", "--moice",
                routers.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(3, r.err().split("prefill:", -1).length - 1, "three model turns: " + r.err());
    }

    @Test
    void badAttentionFlagsAreOneLineErrors() {
        CliTest.Run r = chat("Hi\n", "--method", "moice");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().strip().startsWith("moice: --method moice needs --moice ROUTERS"), r.err());
        r = chat("Hi\n", "--method", "vanilla", "--moice", routers.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("conflicts with --method vanilla"), r.err());
        // fixture routers are for head_dim 16; this model's heads are 8 wide
        r = chat("Hi\n", "--moice", "src/test/resources/moice/llama-gqa/routers.safetensors");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("the model's head_dim is 8"), r.err());
    }

    private static CliTest.Run chat(String input, String... flags) {
        InputStream oldIn = System.in;
        System.setIn(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
        try {
            return CliTest.run(concat(new String[]{"chat", "--model", model.toString()}, flags));
        } finally {
            System.setIn(oldIn);
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
