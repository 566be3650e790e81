package moice.cli;

import moice.attention.Routers;
import moice.io.LoadedModel;
import moice.io.download.ModelCache;
import moice.model.AttentionBuckets;
import moice.model.Benchmark;
import moice.model.InferenceSession;
import moice.model.KVCache;
import moice.model.Model;
import moice.model.RandomWeights;
import moice.model.TensorNames;
import moice.model.Weights;
import moice.attention.RopeLayout;
import moice.tensor.DType;
import moice.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code bin/moice bench}: prefill and decode speed of a model, one table. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prefill tokens/s at given prompt lengths and decode tokens/s (medians), and peak memory.",
                "Example: bin/moice bench --random-shape smollm2-135m --dtype f32 --prefill 512,2048 --decode 128",
                "Compare methods in one run: --method vanilla,ab,mspoe[,moice --moice ROUTERS]."})
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Model directory or .gguf file (or a pulled model's name).")
    String model;

    @Option(names = "--random-shape", description = "Benchmark random weights of a known shape instead: smollm2-135m.")
    String randomShape;

    @Option(names = "--dtype", defaultValue = "f32", description = "Storage type of --random-shape weights: f32, f16, bf16 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--prefill", split = ",", defaultValue = "512,2048", description = "Prompt lengths (default ${DEFAULT-VALUE}).")
    List<Integer> prefill;

    @Option(names = "--decode", defaultValue = "128", description = "Tokens decoded one at a time (default ${DEFAULT-VALUE}); 0 to skip.")
    int decode;

    @Option(names = "--repeats", defaultValue = "3", description = "Measured runs per test after a warm-up (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--train", paramLabel = "T",
            description = "Instead of inference: seconds of one router-training forward+backward over a sequence of T "
                    + "random tokens, for --method vanilla (backward through the frozen model, no routers) and/or "
                    + "moice (--moice ROUTERS, router gradients with aux-coef 0.3).")
    Integer train;

    @Mixin
    AttentionOptions attention;

    @Override
    public Integer call() {
        attention.checkFlags(false); // flag errors before loading the model
        if (randomShape != null) {
            var config = RandomWeights.shape(randomShape);
            DType type = DType.valueOf(dtype.toUpperCase(Locale.ROOT));
            System.err.println("generating random " + type + " weights of shape " + randomShape + " ...");
            Model m = new Model(config, Weights.load(config, TensorNames.HF, new RandomWeights(type, 1)),
                    RopeLayout.HALF_SPLIT);
            return run(m, randomShape + " (random weights, " + type + ")", Optional.empty());
        }
        if (model == null) throw new moice.MoiceException("give --model or --random-shape");
        try (LoadedModel loaded = LoadedModel.open(ModelCache.resolve(model))) {
            return run(loaded.model(), model, loaded.builtInRouters());
        }
    }

    /** Benchmarks every method on {@code m} and prints the table; {@code builtIn}: the model's own MoICE routers. */
    private int run(Model m, String what, Optional<Routers> builtIn) {
        var config = m.config();
        List<String> methods = attention.methods(builtIn.isPresent());
        if (train != null) return runTraining(m, what, builtIn, methods);
        int[] lengths = prefill.stream().mapToInt(Integer::intValue).toArray();
        List<String> lines = new java.util.ArrayList<>();
        int passes = 1;
        for (String method : methods) {
            InferenceSession.Factory sessions = attention.sessions(m, builtIn, method);
            if (sessions instanceof AttentionBuckets ab) passes = Math.max(passes, ab.bases().length);
            System.err.println("method " + method + ":");
            for (Benchmark.Row r : Benchmark.run(config, sessions, lengths, decode, repeats,
                    s -> System.err.println("  " + s)))
                lines.add(String.format(Locale.ROOT, "| %-7s | %-14s | %12.1f | %6.1f – %6.1f |", method, r.test(),
                        r.medianTokensPerSecond(), r.minTps(), r.maxTps()));
        }
        System.out.printf(Locale.ROOT, "model: %s, %,d parameters, %d threads%n", what, config.parameterCount(), Parallel.threads());
        System.out.printf(Locale.ROOT, "| %-7s | %-14s | %12s | %15s |%n", "method", "test", "tokens/s", "range");
        System.out.printf(Locale.ROOT, "|%s|%s|%s|%s|%n", "-".repeat(9), "-".repeat(16), "-".repeat(14), "-".repeat(17));
        lines.forEach(System.out::println);
        int maxLen = Math.max(decode, lengths.length == 0 ? 0 : java.util.Arrays.stream(lengths).max().getAsInt());
        System.out.printf(Locale.ROOT, "KV cache at %d positions: %.1f MiB per model pass%s; peak RSS: %.1f MiB%n", maxLen,
                KVCache.bytesFor(config, maxLen) / 1048576.0,
                passes > 1 ? " (ab: " + passes + " passes, " + passes + "× that)" : "",
                Benchmark.peakRssBytes() / 1048576.0);
        return 0;
    }

    private int runTraining(Model m, String what, Optional<Routers> builtIn, List<String> methods) {
        if (train < 2) throw new moice.MoiceException("--train: expected a sequence length of at least 2, got " + train);
        var config = m.config();
        int[] tokens = new java.util.Random(1).ints(train, 0, config.vocabSize()).toArray();
        var objective = new moice.train.ModelObjective(m);
        List<String> lines = new java.util.ArrayList<>();
        for (String method : methods) {
            Routers routers = switch (method) {
                case "vanilla" -> null;
                case "moice" -> attention.routers(config, builtIn);
                default -> throw new moice.MoiceException("--train measures vanilla and moice, not " + method);
            };
            var grads = routers == null ? null : moice.train.RouterGradients.zerosLike(routers);
            double[] seconds = new double[repeats];
            for (int r = -1; r < repeats; r++) {
                long t0 = System.nanoTime();
                var loss = objective.evaluate(tokens, null, routers, 0.3, grads, 1f);
                double s = (System.nanoTime() - t0) / 1e9;
                System.err.printf(Locale.ROOT, "  %s %s: %.2f s (loss %.4f)%n", method, r < 0 ? "warm-up" : "run " + (r + 1), s, loss.total());
                if (r >= 0) seconds[r] = s;
            }
            java.util.Arrays.sort(seconds);
            lines.add(String.format(Locale.ROOT, "| %-7s | %8d | %10.2f | %10.1f |", method, train,
                    seconds[repeats / 2], train / seconds[repeats / 2]));
        }
        System.out.printf(Locale.ROOT, "model: %s, %,d parameters, %d threads; forward+backward per sequence (median of %d)%n",
                what, config.parameterCount(), Parallel.threads(), repeats);
        System.out.printf(Locale.ROOT, "| %-7s | %8s | %10s | %10s |%n", "method", "tokens", "seconds", "tokens/s");
        System.out.printf(Locale.ROOT, "|%s|%s|%s|%s|%n", "-".repeat(9), "-".repeat(10), "-".repeat(12), "-".repeat(12));
        lines.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "peak RSS: %.1f MiB%n", Benchmark.peakRssBytes() / 1048576.0);
        return 0;
    }
}
