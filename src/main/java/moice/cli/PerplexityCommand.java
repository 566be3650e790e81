package moice.cli;

import moice.method.Methods;
import moice.method.MethodSpec;
import moice.MoiceException;
import moice.eval.Perplexity;
import moice.io.LoadedModel;
import moice.io.download.ModelCache;
import moice.tokenizer.Tokenizer;
import moice.train.TokenSequence;
import moice.train.TrainingData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code bin/moice perplexity}: next-token NLL by position in long held-out text, per method, with intervals. */
@Command(name = "perplexity", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Cuts long held-out text into windows of --context tokens and writes, per method, the mean "
                + "next-token negative log-likelihood over each window and over --buckets equal position ranges, with "
                + "95 % bootstrap intervals over windows and paired sign-flip tests against vanilla / equal: "
                + "DIR/perplexity.md, DIR/perplexity.csv, DIR/windows.csv (per window) and DIR/nll_by_position.png.",
                "Example: bin/moice perplexity --model smollm2-135m-instruct --data held-out.txt --context 4096 "
                        + "--methods vanilla,moice:r.safetensors --out runs/ppl"})
public final class PerplexityCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    @Option(names = "--data", required = true, paramLabel = "FILE",
            description = "Plain text, or JSON Lines / a JSON array of {\"text\"} (and chat) records as train-routers "
                    + "reads them (told apart by the first non-blank character); documents are concatenated.")
    Path data;

    @Option(names = "--context", required = true, paramLabel = "C", description = "Tokens per window.")
    int context;

    @Option(names = "--stride", paramLabel = "S",
            description = "Tokens between window starts (default: --context, disjoint windows; overlapping windows are "
                    + "correlated, so their intervals come out too narrow).")
    Integer stride;

    @Option(names = "--buckets", defaultValue = "8", paramLabel = "B",
            description = "Position ranges of the window reported separately (default ${DEFAULT-VALUE}).")
    int buckets;

    @Option(names = "--max-windows", defaultValue = "2147483647", paramLabel = "N",
            description = "Use only the first N windows.")
    int maxWindows;

    @Option(names = "--block", defaultValue = "512", paramLabel = "T",
            description = "Tokens fed per forward call (bounds the logits memory to T × vocab floats; Ms-PoE ranks its "
                    + "heads on the first block) (default ${DEFAULT-VALUE}).")
    int block;

    @Option(names = "--methods", defaultValue = "vanilla", paramLabel = "M1,M2,..",
            description = "Methods as in eval --methods (default ${DEFAULT-VALUE}).")
    List<String> methods;

    @Option(names = "--ab-bases", split = ",", paramLabel = "B1,B2,..", description = "Attention Buckets bases for method ab.")
    List<Double> abBases;

    @Option(names = "--mspoe-min", paramLabel = "R", description = "Ms-PoE smallest ratio (default 1.2).")
    Double mspoeMin;

    @Option(names = "--mspoe-max", paramLabel = "R", description = "Ms-PoE largest ratio (default 1.8).")
    Double mspoeMax;

    @Option(names = "--mspoe-group-ratios", description = "Ms-PoE: every query head uses its KV head's ratio.")
    boolean mspoeGroupRatios;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created).")
    Path out;

    @Override
    public Integer call() {
        System.setProperty("java.awt.headless", "true");
        if (context < 2) throw new MoiceException("--context must be at least 2 tokens, got " + context);
        int s = stride == null ? context : stride;
        if (s < 1) throw new MoiceException("--stride must be at least 1, got " + s);
        if (block < 1) throw new MoiceException("--block must be at least 1, got " + block);
        if (maxWindows < 1) throw new MoiceException("--max-windows must be at least 1, got " + maxWindows);
        if (!Files.isRegularFile(data)) throw new MoiceException(data + ": no such data file (--data)");
        // methods are parsed exactly as eval parses them (same spec syntax, same baseline flags)
        List<MethodSpec> specs = AttentionOptions.methodList(methods, abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            if (context > m.config().maxPositions())
                throw new MoiceException("--context " + context + " exceeds the model's context of "
                        + m.config().maxPositions() + " tokens");
            List<Perplexity.Method> runs = new ArrayList<>();
            for (MethodSpec spec : specs)
                runs.add(new Perplexity.Method(spec.label(),
                        Methods.sessions(spec.resolve(m.config(), m.builtInRouters(), "--methods"), m.model())));
            int[] stream = tokens(m);
            try {
                Files.createDirectories(out);
            } catch (IOException e) {
                throw new MoiceException(out + ": cannot create the output folder: " + e.getMessage());
            }
            if (stream.length < context)
                throw new MoiceException(data + ": " + stream.length + " tokens, fewer than one window of --context "
                        + context);
            PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
            err.printf("perplexity: %d tokens of %s%n", stream.length, data);
            List<Perplexity.Window> rows = Perplexity.run(stream, runs, m.config().vocabSize(), context, s, buckets,
                    block, maxWindows, err);
            List<String> notes = List.of("model: " + model, "data: " + data + " (" + stream.length + " tokens)",
                    "methods: " + String.join(", ", specs.stream().map(MethodSpec::label).toList()),
                    "context: " + context + ", stride: " + s + ", buckets: " + buckets + ", windows: "
                            + rows.size() / runs.size() + ", block: " + block);
            Perplexity.writeReports(rows, context, buckets, out, notes);
            err.println("perplexity: wrote " + out.resolve("perplexity.md") + ", perplexity.csv, windows.csv and "
                    + "nll_by_position.png");
        }
        return 0;
    }

    /** The token stream: plain text encoded as one document, or JSON records as train-routers reads them. */
    private int[] tokens(LoadedModel m) {
        Tokenizer tokenizer = m.tokenizer();
        String text;
        try {
            text = Files.readString(data, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new MoiceException(data + ": cannot read: " + e.getMessage());
        }
        String head = text.stripLeading();
        if (!head.startsWith("{") && !head.startsWith("[")) return tokenizer.encode(text);
        TrainingData d = TrainingData.load(data, tokenizer, m::chatTemplate, 1 << 20, // pieces are rejoined below
                TrainingData.LossOn.ALL, false);
        int total = 0;
        for (TokenSequence seq : d.sequences()) total += seq.tokens().length;
        int[] out = new int[total];
        int at = 0;
        for (TokenSequence seq : d.sequences()) {
            System.arraycopy(seq.tokens(), 0, out, at, seq.tokens().length);
            at += seq.tokens().length;
        }
        return out;
    }
}
