package moice.cli;

import moice.api.Moice;
import moice.api.TrainOptions;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code bin/moice train-routers}: router-only MoICE training (the model stays frozen). */
@Command(name = "train-routers", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains MoICE routers with the model frozen: loss = next-token cross-entropy + aux-coef x "
                + "load-balancing loss, AdamW, gradient accumulation over the batch.",
                "After every step it writes OUT (router checkpoint) and OUT.state (routers, AdamW moments, step, "
                        + "log rows) atomically; --resume continues a killed run to the same result.",
                "Official recipe: --base-ratios 1,1.75,1.8,1.9,2,2.25,2.5 --top-k 7 --steps 7 --batch 128 --lr 1e-4 "
                        + "--max-len 4608 --aux-coef 0.3.",
                "With --spark MASTER each step's batch is split over Spark executors (gradients summed with "
                        + "treeAggregate); the driver applies AdamW and writes the same files (docs/spark.md).",
                "Example: bin/moice train-routers --model DIR --data corpus.jsonl --out r.safetensors "
                        + "--base-ratios 1,1.75,1.8,1.9,2,2.25,2.5 --top-k 7 --log train.csv"})
public final class TrainRoutersCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or a pulled model's name.")
    String model;

    @Option(names = "--data", required = true, paramLabel = "FILE",
            description = {"Training data: JSON Lines of {\"text\": ...} or {\"messages\": [{\"role\", \"content\"}, ...]}"
                    + " (or {\"conversations\": [{\"from\", \"value\"}, ...]}), or one JSON array of such records "
                    + "(the official OpenHermes file).",
                    "Text is tokenised with the tokenizer's special tokens (BOS); conversations with the model's chat template."})
    Path data;

    @Option(names = "--out", required = true, paramLabel = "ROUTERS",
            description = "Router checkpoint written after every step; the training state goes to ROUTERS.state.")
    Path out;

    @Option(names = "--init", paramLabel = "ROUTERS",
            description = "Start from these routers (their bases; --top-k may change K) instead of normal(0, 0.02).")
    Path init;

    static final class BaseChoice {
        @Option(names = "--bases", split = ",", paramLabel = "B",
                description = "RoPE bases, comma-separated (the first rotates the router input).")
        double[] bases;

        @Option(names = "--base-ratios", split = ",", paramLabel = "R",
                description = "Bases as multiples of the model's rope_theta (official: 1,1.75,1.8,1.9,2,2.25,2.5).")
        double[] ratios;
    }

    @ArgGroup(multiplicity = "0..1")
    BaseChoice baseChoice;

    @Option(names = "--top-k", paramLabel = "K", description = "Experts kept per token and head (required unless --init).")
    Integer topK;

    @Option(names = "--steps", defaultValue = "7", description = "Optimizer steps (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "128", description = "Sequences per step (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "1e-4", description = "AdamW learning rate, constant after warm-up (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--warmup-steps", defaultValue = "0", paramLabel = "W",
            description = "Linear warm-up: step t uses lr*min(1, t/W) (default ${DEFAULT-VALUE}: none).")
    int warmupSteps;

    @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW decoupled weight decay (default ${DEFAULT-VALUE}, as official).")
    double weightDecay;

    @Option(names = "--max-len", defaultValue = "4608", paramLabel = "T",
            description = "Tokens per packed sequence: documents are concatenated and cut into T-token sequences (default ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(names = "--aux-coef", defaultValue = "0.3", description = "Weight of the load-balancing loss (default ${DEFAULT-VALUE}).")
    double auxCoef;

    @Option(names = "--seed", defaultValue = "0",
            description = "Seed of the router initialisation (as 'routers init --seed') and of the per-epoch data shuffle (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--loss-on", defaultValue = "all", paramLabel = "all|assistant",
            description = "Tokens in the cross-entropy: all (official) or only those of assistant turns (default ${DEFAULT-VALUE}).")
    String lossOn;

    @Option(names = "--max-documents", paramLabel = "N",
            description = "Read only the first N documents of --data (default: all).")
    Long maxDocuments;

    @Option(names = "--skip-bad-lines", description = "Skip (and count) malformed or empty data records instead of failing.")
    boolean skipBadLines;

    @Option(names = "--resume", description = "Continue the run saved in OUT.state; the arguments must match (--steps may grow).")
    boolean resume;

    @Option(names = "--log", paramLabel = "FILE.csv",
            description = "CSV log, one row per step: step,loss,ce,aux,grad_norm,lr,tokens,seconds,tokens_per_s.")
    Path log;

    @Mixin
    SparkOptions spark = new SparkOptions();

    @Spec
    picocli.CommandLine.Model.CommandSpec commandSpec;

    @Override
    public Integer call() {
        TrainOptions options = new TrainOptions(model, data, out, init, baseChoice == null ? null : baseChoice.bases,
                baseChoice == null ? null : baseChoice.ratios, topK, steps, batch, lr, warmupSteps, weightDecay, maxLen,
                auxCoef, seed, lossOn, maxDocuments, skipBadLines, resume, log);
        if (spark.requested()) {
            moice.api.Cluster.Options cluster = spark.options(); // bad settings fail here, before any JVM starts
            try {
                spark.clusterOrRelaunch(commandSpec.root().commandLine().getParseResult().originalArgs())
                        .orElseThrow().trainRouters(options, cluster, System.err);
                return 0;
            } catch (SparkOptions.Relaunched child) {
                return child.code;
            }
        }
        Moice.trainRouters(options, System.err);
        return 0;
    }
}
