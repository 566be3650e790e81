package moice.cli;

import moice.api.EvalOptions;
import moice.api.Moice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code bin/moice eval}: long-context accuracy of several attention methods, with CSV, Markdown and PNG reports. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs a long-context task with greedy decoding for every method × length × depth × sample and "
                + "writes DIR/results.csv (one row per sample, appended as it runs: a rerun with the same arguments "
                + "resumes, one with a larger --samples adds samples to it), DIR/summary.md (accuracy by depth and length, Gap, time and memory per method), "
                + "DIR/accuracy_by_depth.png and DIR/heatmap_<method>.png. Progress goes to stderr.",
                "Synthetic tasks (offline, seeded): passkey, kv (UUID key-value retrieval), synthetic-qa (made-up "
                        + "multi-document QA), niah (needle in a haystack).",
                "Tasks read from --data: mdqa (lost-in-the-middle qa_data *.jsonl.gz), leval-coursera, leval-quality, "
                        + "leval-tpo, leval-sci_fi (L-Eval closed-ended *.jsonl), longbench (LongBench English QA *.jsonl).",
                "With --spark MASTER the samples are scored on Spark executors (each loads the model once per JVM); "
                        + "the rows come back here and the files are those of a local run (docs/spark.md).",
                "Example: bin/moice eval --model smollm2-135m-instruct --task passkey --lengths 1024,2048 "
                        + "--depths 0,0.5,1 --samples 5 --methods vanilla,mspoe --out runs/passkey"})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Model directory, .gguf file, or the name of a pulled model (required unless --merge).")
    String model;

    @Option(names = "--merge", split = ",", paramLabel = "DIR1,DIR2,..",
            description = "Instead of running: combine the results.csv of finished eval folders (e.g. baselines and "
                    + "MoICE variants run separately on the same samples) into --out: results.csv, summary.md and plots.")
    List<Path> merge;

    @Option(names = "--task", paramLabel = "TASK",
            description = "passkey, kv, synthetic-qa, niah, mdqa, leval-coursera, leval-quality, leval-tpo, "
                    + "leval-sci_fi or longbench.")
    String task;

    @Option(names = "--data", paramLabel = "FILE",
            description = "Data file of the mdqa, leval-* and longbench tasks (JSON Lines, .gz allowed).")
    Path data;

    @Option(names = "--lengths", split = ",", paramLabel = "L1,L2,..",
            description = "Prompt lengths in model tokens (chat template included): synthetic prompts are filled to "
                    + "the largest size that fits, data-file documents are cut to fit (mdqa is never cut: a longer "
                    + "prompt is an error). Required for synthetic tasks; default for data tasks: the model's "
                    + "context minus --max-new-tokens.")
    List<Integer> lengths;

    @Option(names = "--depths", split = ",", paramLabel = "D1,D2,..",
            description = "Where the answer goes in synthetic tasks, 0 = start to 1 = end (default 0,0.25,0.5,0.75,1). "
                    + "Data tasks take positions from the file and reject this flag.")
    List<Double> depths;

    @Option(names = "--samples", defaultValue = "5", paramLabel = "N",
            description = "Samples per length × depth (synthetic), or the first N samples of the file (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--methods", defaultValue = "vanilla", paramLabel = "M1,M2,..",
            description = "Methods to compare, comma-separated: vanilla, moice (the model's built-in routers), "
                    + "moice:ROUTERS.safetensors, equal[:R1,R2,..] (all bases weighted 1/N, no router; ratios of "
                    + "rope_theta, default 1,1.75,1.8,1.9,2,2.25,2.5), random[:SEED] (fixed random routers, K = N = 7), "
                    + "ab[:B1,B2,..] (Attention Buckets), mspoe[:MIN,MAX[,group]] (default ${DEFAULT-VALUE}).")
    List<String> methods;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the synthetic samples (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-new-tokens", defaultValue = "16", paramLabel = "N",
            description = "Most tokens generated per answer, greedy (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--score", defaultValue = "generate", paramLabel = "generate|loglik",
            description = "generate (default): greedy answers scored by the task's metric. loglik: no decoding; the "
                    + "teacher-forced log-likelihood of the gold answer (prompt, then answer tokens, through the "
                    + "method's own forward pass); L-Eval options: the most likely option is the prediction; other "
                    + "tasks: correct when every answer token is the argmax (greedy agreement).")
    String score;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created; reused to resume).")
    Path out;

    @Option(names = "--plain", description = "Do not wrap prompts in the model's chat template (base models).")
    boolean plain;

    @Option(names = "--ab-bases", split = ",", paramLabel = "B1,B2,..",
            description = "Attention Buckets bases for method ab (default: the retrieval-QA set scaled by rope_theta/10000).")
    List<Double> abBases;

    @Option(names = "--mspoe-min", paramLabel = "R", description = "Ms-PoE smallest ratio for method mspoe (default 1.2).")
    Double mspoeMin;

    @Option(names = "--mspoe-max", paramLabel = "R", description = "Ms-PoE largest ratio for method mspoe (default 1.8).")
    Double mspoeMax;

    @Option(names = "--mspoe-group-ratios",
            description = "Method mspoe on a grouped-query model: every query head uses its KV head's ratio (see bin/moice forward --help).")
    boolean mspoeGroupRatios;

    @Mixin
    SparkOptions spark = new SparkOptions();

    @Spec
    picocli.CommandLine.Model.CommandSpec commandSpec;

    @Override
    public Integer call() {
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        if (merge != null) {
            if (spark.requested()) throw new moice.MoiceException("--merge runs here; leave out --spark");
            Moice.mergeEvals(merge, out, err);
            return 0;
        }
        EvalOptions options = new EvalOptions(model, task, data, lengths, depths, samples, methods, seed, maxNewTokens,
                score, out, plain, abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
        if (spark.requested()) {
            moice.api.Cluster.Options cluster = spark.options(); // bad settings fail here, before any JVM starts
            try {
                spark.clusterOrRelaunch(commandSpec.root().commandLine().getParseResult().originalArgs())
                        .orElseThrow().eval(options, cluster, err);
                return 0;
            } catch (SparkOptions.Relaunched child) {
                return child.code;
            }
        }
        Moice.eval(options, err);
        return 0;
    }
}
