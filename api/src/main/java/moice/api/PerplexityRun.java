package moice.api;

import moice.MoiceException;
import moice.eval.Perplexity;
import moice.load.LoadedModel;
import moice.io.download.ModelCache;
import moice.method.MethodFlags;
import moice.method.MethodSpec;
import moice.method.Methods;
import moice.tokenizer.Tokenizer;
import moice.train.TokenSequence;
import moice.train.TrainingData;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The perplexity run behind {@link Moice#perplexity} (and {@code bin/moice perplexity}). */
final class PerplexityRun {
    private PerplexityRun() {}

    static List<Perplexity.Window> run(PerplexityOptions o, PrintStream err) {
        System.setProperty("java.awt.headless", "true");
        int context = o.context();
        Path data = o.data();
        if (context < 2) throw new MoiceException("--context must be at least 2 tokens, got " + context);
        int stride = o.stride() == null ? context : o.stride();
        if (stride < 1) throw new MoiceException("--stride must be at least 1, got " + stride);
        if (o.llamaCompat() && stride != context)
            throw new MoiceException("--llama-compat reads disjoint windows as llama-perplexity does; drop --stride "
                    + "(got " + stride + " for --context " + context + ")");
        if (o.llamaCompat() && o.scoreFrom() != null)
            throw new MoiceException("--llama-compat sets --score-from to --context/2+1 = " + (context / 2 + 1)
                    + "; give one of them");
        int scoreFrom = o.scoreFrom() != null ? o.scoreFrom() : o.llamaCompat() ? context / 2 + 1 : 1;
        if (scoreFrom < 1 || scoreFrom > context - 1)
            throw new MoiceException("--score-from must be in [1, " + (context - 1) + "] for --context " + context
                    + ", got " + scoreFrom);
        if (o.block() < 1) throw new MoiceException("--block must be at least 1, got " + o.block());
        if (o.maxWindows() < 1) throw new MoiceException("--max-windows must be at least 1, got " + o.maxWindows());
        if (data == null || !Files.isRegularFile(data))
            throw new MoiceException(data + ": no such data file (--data)");
        if (o.out() == null) throw new MoiceException("--out is required");
        // methods are parsed exactly as eval parses them (same spec syntax, same baseline flags)
        List<MethodSpec> specs = MethodFlags.methodList(o.methods() == null ? List.of("vanilla") : o.methods(),
                o.abBases(), o.mspoeMin(), o.mspoeMax(), o.mspoeGroupRatios());
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(o.model()))) {
            if (context > m.config().maxPositions())
                throw new MoiceException("--context " + context + " exceeds the model's context of "
                        + m.config().maxPositions() + " tokens");
            List<Perplexity.Method> runs = new ArrayList<>();
            for (MethodSpec spec : specs)
                runs.add(new Perplexity.Method(spec.label(),
                        Methods.sessions(spec.resolve(m.config(), m.builtInRouters(), "--methods"),
                                m.model().withKvPrecision(o.kvCache()))));
            int[] stream = tokens(m, data);
            try {
                Files.createDirectories(o.out());
            } catch (IOException e) {
                throw new MoiceException(o.out() + ": cannot create the output folder: " + e.getMessage());
            }
            if (stream.length < context)
                throw new MoiceException(data + ": " + stream.length + " tokens, fewer than one window of --context "
                        + context);
            err.printf("perplexity: %d tokens of %s%n", stream.length, data);
            // llama-perplexity puts BOS first in every window exactly when its tokenizer adds BOS to a text
            int bos = o.llamaCompat() ? bosId(m.tokenizer()) : -1;
            Perplexity.WindowScoring scoring = o.llamaCompat() ? Perplexity.WindowScoring.llamaPerplexity(context, bos)
                    : new Perplexity.WindowScoring(scoreFrom, -1);
            List<Perplexity.Window> rows = Perplexity.run(stream, runs, m.config().vocabSize(), context, stride,
                    o.buckets(), o.block(), o.maxWindows(), scoring, err);
            List<String> notes = new ArrayList<>(List.of("model: " + o.model(),
                    "data: " + data + " (" + stream.length + " tokens)",
                    "methods: " + String.join(", ", specs.stream().map(MethodSpec::label).toList()),
                    "context: " + context + ", stride: " + stride + ", buckets: " + o.buckets() + ", windows: "
                            + rows.size() / runs.size() + ", block: " + o.block()));
            if (o.llamaCompat())
                notes.add("scored as llama.cpp's llama-perplexity: predicted tokens " + scoreFrom + "–" + (context - 1)
                        + " of each window, first token " + (bos < 0 ? "kept (the tokenizer adds no BOS)"
                        : "replaced by BOS (id " + bos + ")"));
            else if (scoreFrom != 1)
                notes.add("window means count predicted tokens " + scoreFrom + "–" + (context - 1));
            Perplexity.writeReports(rows, context, o.buckets(), scoreFrom, o.out(), notes);
            if (o.llamaCompat()) {
                for (MethodSpec spec : specs) {
                    double sum = 0;
                    int n = 0;
                    for (Perplexity.Window w : rows)
                        if (w.method().equals(spec.label())) {
                            sum += w.meanNll();
                            n++;
                        }
                    // every window counts the same number of tokens, so the mean of window means is the token mean
                    err.printf(java.util.Locale.ROOT, "perplexity: %s: PPL = %.4f over %d windows (llama-perplexity's "
                            + "'Final estimate')%n", spec.label(), Math.exp(sum / n), n);
                }
            }
            err.println("perplexity: wrote " + o.out().resolve("perplexity.md") + ", perplexity.csv, windows.csv and "
                    + "nll_by_position.png");
            return rows;
        }
    }

    /** The id of the BOS token the tokenizer puts in front of a text, or −1 when it adds none. */
    static int bosId(Tokenizer tokenizer) {
        return tokenizer.bosToken().flatMap(t -> {
            java.util.OptionalInt id = tokenizer.tokenId(t);
            return id.isPresent() ? java.util.Optional.of(id.getAsInt()) : java.util.Optional.empty();
        }).orElse(-1);
    }

    /** The token stream: plain text encoded as one document, or JSON records as train-routers reads them. */
    private static int[] tokens(LoadedModel m, Path data) {
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
