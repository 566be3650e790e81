package moice.cli;

import moice.MoiceException;
import moice.io.download.ModelCache;
import moice.io.gguf.GgufConverter;
import moice.tensor.Q8_0Format;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice convert}: re-encode a GGUF model's weight matrices as F32, F16 or Q8_0. A file-format tool: it
 * rewrites a GGUF file with {@link GgufConverter} and runs no model, so it has nothing to ask of the API.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Writes a copy of a GGUF model whose weight matrices are stored as f32, f16 or q8_0 (norms, "
                + "metadata and tokenizer unchanged).",
                "Example: bin/moice convert --model smollm2-135m-instruct --type q8_0 --out smollm2-q8_0.gguf"})
public final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "A .gguf file or the name of a pulled GGUF model.")
    String model;

    @Option(names = "--type", required = true, description = "Target weight type: f32, f16, q8_0.")
    String type;

    @Option(names = "--out", required = true, description = "Output .gguf file (written atomically).")
    Path out;

    @Override
    public Integer call() {
        GgufConverter.Target target;
        try {
            target = GgufConverter.Target.valueOf(type.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new MoiceException("--type: expected f32, f16 or q8_0, got '" + type + "'");
        }
        Path in = ModelCache.resolve(model);
        if (!in.getFileName().toString().endsWith(".gguf"))
            throw new MoiceException(in + ": convert reads GGUF files");
        long t0 = System.nanoTime();
        GgufConverter.convert(in, out, target, (src, cols, dst, off) -> Q8_0Format.quantizeRow(src, 0, cols, dst, off),
                s -> {
                    if (s.startsWith("warning")) System.err.println(s);
                });
        System.err.printf(Locale.ROOT, "converted %s to %s in %.1f s%n", in.getFileName(), type, (System.nanoTime() - t0) / 1e9);
        System.out.println(out);
        return 0;
    }
}
