package moice.tokenizer;

import moice.io.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Encoding speed, run by hand (not a test):
 * {@code java -cp target/classes:target/test-classes moice.tokenizer.TokenizerBench TOKENIZER_JSON TEXT [IDS_JSON]}.
 * Prints the best of several rounds after warm-up, with a fresh tokenizer each round (so the word cache starts cold,
 * as for one prompt), and checks the ids against IDS_JSON (e.g. written by HF) when given.
 */
public final class TokenizerBench {
    public static void main(String[] args) throws Exception {
        Path json = Path.of(args[0]);
        String text = Files.readString(Path.of(args[1]));
        long loadStart = System.nanoTime();
        Tokenizer tok = Tokenizer.load(json);
        System.out.printf("load %.0f ms%n", (System.nanoTime() - loadStart) / 1e6);
        int[] ids = tok.encode(text);
        if (args.length > 2) {
            int[] expected = TokenizerFixtureTest.ints(Json.parse(Files.readString(Path.of(args[2])), args[2]));
            System.out.println("ids match reference: " + Arrays.equals(expected, ids));
        }
        for (int i = 0; i < 20; i++) Tokenizer.load(json).encode(text); // warm-up
        double coldBest = Double.MAX_VALUE;
        double warmBest = Double.MAX_VALUE;
        for (int round = 0; round < 10; round++) {
            Tokenizer fresh = Tokenizer.load(json);
            long t0 = System.nanoTime();
            fresh.encode(text);
            long t1 = System.nanoTime();
            fresh.encode(text);
            long t2 = System.nanoTime();
            coldBest = Math.min(coldBest, (t1 - t0) / 1e9);
            warmBest = Math.min(warmBest, (t2 - t1) / 1e9);
        }
        System.out.printf("%d bytes, %d tokens: cold cache %.1f ms (%.0f tokens/s), warm cache %.1f ms (%.0f tokens/s)%n",
                text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length, coldBest * 1e3,
                ids.length / coldBest, warmBest * 1e3, ids.length / warmBest);
    }
}
