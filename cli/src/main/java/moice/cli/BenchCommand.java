package moice.cli;

import moice.attention.MoiceAttention;
import moice.attention.Routers;
import moice.io.RouterFile;
import moice.load.LoadedModel;
import moice.io.download.ModelCache;
import moice.method.Method;
import moice.method.MethodSpec;
import moice.method.Methods;
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

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice bench}: prefill and decode speed of a model, one table. Below the API on purpose: it measures the
 * engine itself (random weights of a known shape with no files, several methods' session factories interleaved by
 * {@link Benchmark}, rotated-key-copy variants, training's forward+backward), so it takes its sessions from
 * {@link Methods}, the one method factory, and the model layer directly.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures prefill tokens/s at given prompt lengths and decode tokens/s (medians), and peak memory.",
                "Example: bin/moice bench --random-shape smollm2-135m --dtype f32 --prefill 512,2048 --decode 128",
                "Compare methods in one run: --method vanilla,ab,mspoe[,moice --moice ROUTERS] [--moice-also R2,..]; the methods' runs alternate."})
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

    @Option(names = "--decode-context", defaultValue = "0",
            description = "Decode after an untimed prefill of this many tokens (default ${DEFAULT-VALUE}: from an empty cache).")
    int decodeContext;

    @Option(names = "--repeats", defaultValue = "3", description = "Measured runs per test after a warm-up (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--train", paramLabel = "T",
            description = "Instead of inference: seconds of one router-training forward+backward over a sequence of T "
                    + "random tokens, for --method vanilla (backward through the frozen model, no routers) and/or "
                    + "moice (--moice ROUTERS, router gradients with aux-coef 0.3).")
    Integer train;

    @Option(names = "--moice-also", split = ",", paramLabel = "ROUTERS",
            description = "More MoICE router checkpoints, each benchmarked as one more method beside --method's "
                    + "(e.g. other top-K); labelled by file name.")
    List<Path> moiceAlso = List.of();

    @Option(names = "--rotated-key-copies",
            description = "Also benchmark every MoICE method keeping one rotated copy of the keys per base "
                    + "(N× key memory) instead of rotating the cached keys on the fly; labelled '+copies'.")
    boolean rotatedKeyCopies;

    @Option(names = "--kv-cache", split = ",", defaultValue = "f32", paramLabel = "f32,f16",
            description = "KV cache precisions to measure (default ${DEFAULT-VALUE}); with both, every method runs "
                    + "with each, in alternation, labelled '(f16 KV)'.")
    List<String> kvCache;

    @Mixin
    AttentionOptions attention;

    @Override
    public Integer call() {
        attention.checkFlags(false); // flag errors before loading the model
        if (decodeContext < 0) throw new moice.MoiceException("--decode-context: expected 0 or more tokens, got " + decodeContext);
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

    /** Benchmarks every method on {@code m} side by side and prints the table; {@code builtIn}: the model's own MoICE routers. */
    private int run(Model m, String what, Optional<Routers> builtIn) {
        var config = m.config();
        List<Method> methods = new ArrayList<>();
        List<String> names = new ArrayList<>(); // the specs as given label the rows (ab:B1,.. differs from ab)
        for (MethodSpec spec : attention.specs(builtIn.isPresent())) {
            methods.add(spec.resolve(config, builtIn, "--method"));
            names.add(spec.label());
        }
        if (train != null) return runTraining(m, what, methods);
        for (Path p : moiceAlso) {
            methods.add(new Method.Moice(RouterFile.read(p, config.numLayers(), config.headDim()),
                    "moice " + p.getFileName()));
            names.add("moice " + p.getFileName());
        }
        int[] lengths = prefill.stream().mapToInt(Integer::intValue).toArray();
        List<String> labels = new ArrayList<>();
        List<InferenceSession.Factory> factories = new ArrayList<>();
        List<InferenceSession[]> copySessions = new ArrayList<>();
        int passes = 1;
        List<KVCache.Precision> precisions = kvCache.stream().map(s -> KVCache.Precision.parse(s, "--kv-cache"))
                .distinct().toList();
        for (int i = 0; i < methods.size() * precisions.size(); i++) {
            Method method = methods.get(i % methods.size());
            KVCache.Precision precision = precisions.get(i / methods.size());
            String name = names.get(i % methods.size()) + (precision == KVCache.Precision.F32 ? ""
                    : " (" + precision.name().toLowerCase(Locale.ROOT) + " KV)");
            InferenceSession.Factory sessions = Methods.sessions(method, m.withKvPrecision(precision));
            if (sessions instanceof AttentionBuckets ab) passes = Math.max(passes, ab.bases().length);
            labels.add(name);
            factories.add(sessions);
            if (rotatedKeyCopies && method.routes()) {
                // remember the last session opened, to report the memory its rotated copies took
                InferenceSession.Factory copies = Methods.sessions(method, m.withKvPrecision(precision),
                        new Methods.Options(true, false));
                InferenceSession[] last = new InferenceSession[1];
                labels.add(name + "+copies");
                factories.add(capacity -> last[0] = copies.open(capacity));
                copySessions.add(last);
            }
        }
        for (int i = 0; i < labels.size(); i++) System.err.println("method " + (i + 1) + ": " + labels.get(i));
        List<List<Benchmark.Row>> rows = Benchmark.runInterleaved(config, factories, lengths, decode, decodeContext, repeats,
                s -> System.err.println("  " + s));
        int w = Math.max(7, labels.stream().mapToInt(String::length).max().orElse(7));
        String fmt = "| %-" + w + "s | %-14s | %12s | %15s |%n";
        System.out.printf(Locale.ROOT, "model: %s, %,d parameters, %d threads; methods measured in alternation; "
                + "tokens/s: median of %d (mean of the middle two for an even count), range: min – max%n", what,
                config.parameterCount(), Parallel.threads(), repeats);
        System.out.println("machine: " + Benchmark.machine());
        System.out.printf(Locale.ROOT, fmt, "method", "test", "tokens/s", "range");
        System.out.printf(Locale.ROOT, "|%s|%s|%s|%s|%n", "-".repeat(w + 2), "-".repeat(16), "-".repeat(14), "-".repeat(17));
        for (int i = 0; i < labels.size(); i++)
            for (Benchmark.Row r : rows.get(i))
                System.out.printf(Locale.ROOT, fmt, labels.get(i), r.test(),
                        String.format(Locale.ROOT, "%.1f", r.medianTokensPerSecond()),
                        String.format(Locale.ROOT, "%6.1f – %6.1f", r.minTps(), r.maxTps()));
        int maxLen = Math.max(decodeContext + decode, lengths.length == 0 ? 0 : java.util.Arrays.stream(lengths).max().getAsInt());
        StringBuilder kv = new StringBuilder();
        for (KVCache.Precision p : precisions)
            kv.append(kv.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.1f MiB%s",
                    KVCache.bytesFor(config, maxLen, p) / 1048576.0,
                    precisions.size() > 1 ? " (" + p.name().toLowerCase(Locale.ROOT) + ")" : ""));
        System.out.printf(Locale.ROOT, "KV cache at %d positions: %s per model pass%s; peak RSS: %.1f MiB%n", maxLen,
                kv,
                passes > 1 ? " (ab: " + passes + " passes, " + passes + "× that)" : "",
                Benchmark.peakRssBytes() / 1048576.0);
        for (InferenceSession[] last : copySessions)
            if (last[0] instanceof InferenceSession.Single s && s.attentionState() instanceof MoiceAttention.State st)
                System.out.printf(Locale.ROOT, "rotated key copies held by a +copies method: %.1f MiB%n",
                        st.rotatedCopyBytes() / 1048576.0);
        return 0;
    }

    private int runTraining(Model m, String what, List<Method> methods) {
        if (train < 2) throw new moice.MoiceException("--train: expected a sequence length of at least 2, got " + train);
        var config = m.config();
        int[] tokens = new java.util.Random(1).ints(train, 0, config.vocabSize()).toArray();
        var objective = new moice.train.ModelObjective(m);
        List<String> lines = new java.util.ArrayList<>();
        for (Method method : methods) {
            Routers routers = switch (method) {
                case Method.Vanilla v -> null;
                case Method.Moice mo -> mo.routers();
                default -> throw new moice.MoiceException("--train measures vanilla and moice, not " + method.label());
            };
            var grads = routers == null ? null : moice.train.RouterGradients.zerosLike(routers);
            double[] seconds = new double[repeats];
            for (int r = -1; r < repeats; r++) {
                long t0 = System.nanoTime();
                var loss = objective.evaluate(tokens, null, routers, 0.3, grads, 1f);
                double s = (System.nanoTime() - t0) / 1e9;
                System.err.printf(Locale.ROOT, "  %s %s: %.2f s (loss %.4f)%n", method.label(), r < 0 ? "warm-up" : "run " + (r + 1), s, loss.total());
                if (r >= 0) seconds[r] = s;
            }
            double median = Benchmark.median(seconds);
            lines.add(String.format(Locale.ROOT, "| %-7s | %8d | %10.2f | %10.2f | %10.1f |", method.label(), train,
                    median, java.util.Arrays.stream(seconds).min().orElse(median), train / median));
        }
        System.out.printf(Locale.ROOT, "model: %s, %,d parameters, %d threads; forward+backward per sequence (median of %d)%n",
                what, config.parameterCount(), Parallel.threads(), repeats);
        System.out.println("machine: " + Benchmark.machine());
        System.out.printf(Locale.ROOT, "| %-7s | %8s | %10s | %10s | %10s |%n", "method", "tokens", "seconds", "min s", "tokens/s");
        System.out.printf(Locale.ROOT, "|%s|%s|%s|%s|%s|%n", "-".repeat(9), "-".repeat(10), "-".repeat(12), "-".repeat(12), "-".repeat(12));
        lines.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "peak RSS: %.1f MiB%n", Benchmark.peakRssBytes() / 1048576.0);
        return 0;
    }
}
