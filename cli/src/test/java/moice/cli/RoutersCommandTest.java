package moice.cli;

import moice.attention.Routers;
import moice.io.RouterFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code routers init} / {@code routers show}, and {@code generate --moice}. */
class RoutersCommandTest {
    static final String MODEL = "src/test/resources/models/llama-gqa"; // theta 10000, 2 layers, head_dim 16

    @TempDir
    static Path tmp;
    static Path chatModel;

    @BeforeAll
    static void writeModel() throws IOException {
        chatModel = TinyChatModel.write(tmp.resolve("tiny"));
    }

    @Test
    void initWithRatiosFollowsTheOfficialRecipe() throws IOException {
        Path out = tmp.resolve("ratios.safetensors");
        CliTest.Run r = CliTest.run("routers", "init", "--model", MODEL, "--base-ratios", "1,1.75,1.8,1.9,2,2.25,2.5",
                "--top-k", "7", "--seed", "5", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        Routers routers = RouterFile.read(out, 2, 16);
        assertArrayEquals(new double[]{10000, 17500, 18000, 19000, 20000, 22500, 25000}, routers.bases(), 1e-9);
        assertEquals(7, routers.topK());
        // normal(0, 0.02): 2 layers x 273 weights
        double sum = 0, sq = 0;
        int count = 0;
        for (int l = 0; l < 2; l++)
            for (float[] g : new float[][]{routers.gate1()[l], routers.gate2()[l], routers.gate3()[l]})
                for (float v : g) {
                    sum += v;
                    sq += v * v;
                    count++;
                }
        assertEquals(2 * (2 * 16 * 7 + 49), count);
        double mean = sum / count, std = Math.sqrt(sq / count - mean * mean);
        assertTrue(Math.abs(mean) < 0.003 && Math.abs(std - 0.02) < 0.002, "mean " + mean + " std " + std);

        Path again = tmp.resolve("again.safetensors"), other = tmp.resolve("other.safetensors");
        CliTest.run("routers", "init", "--model", MODEL, "--base-ratios", "1,1.75,1.8,1.9,2,2.25,2.5",
                "--top-k", "7", "--seed", "5", "--out", again.toString());
        CliTest.run("routers", "init", "--model", MODEL, "--base-ratios", "1,1.75,1.8,1.9,2,2.25,2.5",
                "--top-k", "7", "--seed", "6", "--out", other.toString());
        assertArrayEquals(Files.readAllBytes(out), Files.readAllBytes(again), "same seed, same file");
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(out), Files.readAllBytes(other)), "seed matters");
    }

    @Test
    void initWithBasesAndBadFlags() {
        Path out = tmp.resolve("bases.safetensors");
        CliTest.Run r = CliTest.run("routers", "init", "--model", MODEL, "--bases", "10000,30000", "--top-k", "1",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(new double[]{10000, 30000}, RouterFile.read(out).bases());
        fails("--top-k 3: expected an integer in [1, 2]", "--bases", "10000,30000", "--top-k", "3");
        fails("--bases: element 2 repeats an earlier base", "--bases", "10000,10000", "--top-k", "1");
        fails("--base-ratios: element 1 (-1.0) is not positive", "--base-ratios", "-1,2", "--top-k", "1");
    }

    @Test
    void showPrintsShapesBasesAndNorms() {
        Path fixture = Path.of("src/test/resources/moice/llama-gqa/routers.safetensors");
        CliTest.Run r = CliTest.run("routers", "show", fixture.toString());
        assertEquals(0, r.code(), r.err());
        Routers routers = RouterFile.read(fixture);
        assertTrue(r.out().contains("bases: [10000.0, 17500.0, 18000.0, 19000.0, 20000.0, 22500.0, 25000.0]"), r.out());
        assertTrue(r.out().contains("top_k: 3"), r.out());
        assertTrue(r.out().contains("layers: 2; per layer gate_1 [7, 16], gate_2 [7, 7], gate_3 [7, 16] (273 parameters)"),
                r.out());
        String row1 = String.format(Locale.ROOT, "%5d  %8.4f  %8.4f  %8.4f", 1, RoutersCommand.Show.norm(routers.gate1()[1]),
                RoutersCommand.Show.norm(routers.gate2()[1]), RoutersCommand.Show.norm(routers.gate3()[1]));
        assertTrue(r.out().contains(row1), r.out());
        // the fixture's weights are N(0, 0.5): a norm of 112 values is about 0.5 * sqrt(112) = 5.3
        assertTrue(RoutersCommand.Show.norm(routers.gate1()[0]) > 3 && RoutersCommand.Show.norm(routers.gate1()[0]) < 8);
    }

    @Test
    void generateWithSingleBaseRoutersEqualsVanilla() {
        Path routers = tmp.resolve("single.safetensors");
        assertEquals(0, CliTest.run("routers", "init", "--model", chatModel.toString(), "--bases", "10000",
                "--top-k", "1", "--std", "0.5", "--out", routers.toString()).code());
        CliTest.Run vanilla = CliTest.run("generate", "--model", chatModel.toString(), "--prompt", "Hello there",
                "--max-tokens", "12");
        CliTest.Run moice = CliTest.run("generate", "--model", chatModel.toString(), "--prompt", "Hello there",
                "--max-tokens", "12", "--moice", routers.toString());
        assertEquals(0, moice.code(), moice.err());
        assertFalse(vanilla.out().isBlank());
        assertEquals(vanilla.out(), moice.out());

        Path mixed = tmp.resolve("mixed.safetensors");
        assertEquals(0, CliTest.run("routers", "init", "--model", chatModel.toString(), "--base-ratios", "1,3,9",
                "--top-k", "2", "--std", "0.5", "--out", mixed.toString()).code());
        CliTest.Run r = CliTest.run("generate", "--model", chatModel.toString(), "--prompt", "Hello there",
                "--max-tokens", "12", "--moice", mixed.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("decode:"), r.err());
    }

    private static void fails(String fragment, String... flags) {
        String[] args = new String[6 + flags.length];
        String[] head = {"routers", "init", "--model", MODEL, "--out", tmp.resolve("bad.safetensors").toString()};
        System.arraycopy(head, 0, args, 0, 6);
        System.arraycopy(flags, 0, args, 6, flags.length);
        CliTest.Run r = CliTest.run(args);
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().strip().startsWith("moice: ") && r.err().contains(fragment), r.err());
    }
}
