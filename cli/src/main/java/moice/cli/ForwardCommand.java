package moice.cli;

import moice.MoiceException;
import moice.api.Engine;
import moice.api.Logits;
import moice.api.Moice;
import moice.api.Session;
import moice.api.SessionOptions;
import moice.io.AtomicFile;
import moice.io.SafeTensorsWriter;
import moice.io.TokenIds;
import moice.io.download.ModelCache;
import moice.method.Method;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code bin/moice forward}: logits of every position of a token sequence, as float32 safetensors. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = {"Writes tensor 'logits' (float32 [T, vocab]) for the token ids in a JSON array, all positions.",
                "Example: bin/moice forward --model DIR --tokens ids.json --out logits.safetensors [--moice routers.safetensors | --method ab|mspoe]"})
public final class ForwardCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    @Option(names = "--tokens", required = true, description = "JSON array of token ids.")
    Path tokens;

    @Option(names = "--out", required = true, description = "Output .safetensors file (written atomically).")
    Path out;

    @Mixin
    AttentionOptions attention;

    @Option(names = "--routing-stats", paramLabel = "FILE.csv",
            description = "With MoICE (also equal, random): per layer, head and expert, how often it was selected and its mean weight (CSV, written atomically).")
    Path routingStats;

    @Override
    public Integer call() {
        int[] ids = TokenIds.read(tokens);
        attention.checkFlags(true); // flag errors before loading the model
        try (Engine engine = Moice.load(ModelCache.resolve(model))) {
            Method method = attention.method(engine.model());
            if (routingStats != null && !method.routes())
                throw new MoiceException("--routing-stats needs --moice ROUTERS (or a MoICE checkpoint)");
            Session session = engine.session(method,
                    routingStats != null ? SessionOptions.recordingRouting() : SessionOptions.DEFAULT);
            long t0 = System.nanoTime();
            Logits logits = session.forward(ids);
            System.err.printf("forward: %d tokens in %.2f s%n", ids.length, (System.nanoTime() - t0) / 1e9);
            new SafeTensorsWriter().addF32("logits", logits.values(), logits.tokens(), logits.vocab()).write(out);
            if (routingStats != null) {
                byte[] csv = session.routing().orElseThrow().toCsv().getBytes(StandardCharsets.UTF_8);
                AtomicFile.write(routingStats, ch -> {
                    ByteBuffer b = ByteBuffer.wrap(csv);
                    while (b.hasRemaining()) ch.write(b);
                });
            }
        }
        return 0;
    }
}
