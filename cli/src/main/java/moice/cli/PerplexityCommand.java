package moice.cli;

import moice.api.Moice;
import moice.api.PerplexityOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code bin/moice perplexity}: next-token NLL by position in long held-out text, per method, with intervals. */
@Command(name = "perplexity", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Cuts long held-out text into windows of --context tokens and writes, per method, the mean "
                + "next-token negative log-likelihood over each window and over --buckets equal position ranges, with "
                + "95 %% bootstrap intervals over windows and paired sign-flip tests against vanilla / equal: "
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

    @Option(names = "--score-from", paramLabel = "T",
            description = "Count only predicted tokens T..C-1 of each window in its mean NLL (default 1: all; the "
                    + "position buckets still cover the whole window).")
    Integer scoreFrom;

    @Option(names = "--llama-compat",
            description = "Score as llama.cpp's llama-perplexity does, so the two numbers compare on the same plain-text "
                    + "file and --context: disjoint windows, BOS in place of each window's first token when the "
                    + "tokenizer adds BOS, only predicted tokens C/2+1..C-1 counted; prints PPL like its 'Final "
                    + "estimate'.")
    boolean llamaCompat;

    @Option(names = "--kv-cache", defaultValue = "f32", paramLabel = "f32|f16",
            description = "KV cache precision of every method: f32 (exact, default) or f16 (half the memory, as "
                    + "llama.cpp's default; run both to see what half precision costs).")
    String kvCache;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created).")
    Path out;

    @Override
    public Integer call() {
        Moice.perplexity(new PerplexityOptions(model, data, context, stride, buckets, maxWindows, block, methods, abBases,
                mspoeMin, mspoeMax, mspoeGroupRatios, out, scoreFrom, llamaCompat,
                moice.model.KVCache.Precision.parse(kvCache, "--kv-cache")), new PrintStream(System.err, true, StandardCharsets.UTF_8));
        return 0;
    }
}
