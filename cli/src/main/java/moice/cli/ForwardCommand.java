package moice.cli;

import moice.MoiceException;
import moice.attention.MoiceAttention;
import moice.attention.RoutingLog;
import moice.attention.RoutingStats;
import moice.io.AtomicFile;
import moice.load.LoadedModel;
import moice.io.download.ModelCache;
import moice.io.TokenIds;
import moice.io.SafeTensorsWriter;
import moice.method.Method;
import moice.method.Methods;
import moice.model.InferenceSession;
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
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            Method method = attention.method(m);
            var options = new Methods.Options(false, routingStats != null);
            if (routingStats != null && Methods.routers(method, m.config()).isEmpty())
                throw new MoiceException("--routing-stats needs --moice ROUTERS (or a MoICE checkpoint)");
            InferenceSession session = Methods.sessions(method, m.model(), options).open(Math.max(ids.length, 1));
            long t0 = System.nanoTime();
            float[] logits = session.forward(ids, ids.length);
            System.err.printf("forward: %d tokens in %.2f s%n", ids.length, (System.nanoTime() - t0) / 1e9);
            new SafeTensorsWriter().addF32("logits", logits, ids.length, m.config().vocabSize()).write(out);
            if (routingStats != null) {
                RoutingLog log = ((MoiceAttention.State) ((InferenceSession.Single) session).attentionState()).routingLog();
                double[] bases = Methods.routers(method, m.config()).orElseThrow().bases();
                byte[] csv = RoutingStats.of(log).toCsv(bases).getBytes(StandardCharsets.UTF_8);
                AtomicFile.write(routingStats, ch -> {
                    ByteBuffer b = ByteBuffer.wrap(csv);
                    while (b.hasRemaining()) ch.write(b);
                });
            }
        }
        return 0;
    }
}
