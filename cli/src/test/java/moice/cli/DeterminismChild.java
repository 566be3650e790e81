package moice.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One JVM of {@link DeterminismTest}: {@code DeterminismChild OUT WARMUPS CHAT_MODEL FORWARD_ARGS...} runs
 * {@code forward} with FORWARD_ARGS once cold (writing OUT/cold.safetensors), then WARMUPS more times so the JIT
 * compiles the kernels, then once more (OUT/warm.safetensors); and a sampled {@code generate} on CHAT_MODEL cold and
 * warm (OUT/generate-cold.txt, -warm.txt).
 */
public final class DeterminismChild {
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        int warmups = Integer.parseInt(args[1]);
        String model = args[2];
        List<String> forward = Arrays.asList(args).subList(3, args.length);
        run(forward, out.resolve("cold.safetensors"));
        Files.writeString(out.resolve("generate-cold.txt"), generate(model));
        for (int i = 0; i < warmups; i++) {
            run(forward, out.resolve("warmup.safetensors"));
            generate(model);
        }
        run(forward, out.resolve("warm.safetensors"));
        Files.writeString(out.resolve("generate-warm.txt"), generate(model));
    }

    private static void run(List<String> forward, Path file) {
        List<String> a = new ArrayList<>(List.of("forward"));
        a.addAll(forward);
        a.addAll(List.of("--out", file.toString()));
        int rc = Main.run(a.toArray(String[]::new));
        if (rc != 0) throw new IllegalStateException("forward exited " + rc);
    }

    private static String generate(String model) {
        PrintStream old = System.out;
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        System.setOut(new PrintStream(text, true, StandardCharsets.UTF_8));
        try {
            int rc = Main.run("generate", "--model", model, "--prompt", "Once upon a time", "--max-tokens", "24",
                    "--temperature", "0.9", "--top-p", "0.95", "--seed", "7");
            if (rc != 0) throw new IllegalStateException("generate exited " + rc);
        } finally {
            System.setOut(old);
        }
        return text.toString(StandardCharsets.UTF_8);
    }
}
