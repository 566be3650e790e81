package moice.cli;

import moice.MoiceException;
import moice.attention.Routers;
import moice.io.LoadedModel;
import moice.io.RouterFile;
import moice.io.download.ModelCache;
import moice.model.ModelConfig;
import moice.train.AdamW;
import moice.train.ModelObjective;
import moice.train.RouterObjective;
import moice.train.Trainer;
import moice.train.TrainingData;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code bin/moice train-routers}: router-only MoICE training (the model stays frozen). */
@Command(name = "train-routers", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains MoICE routers with the model frozen: loss = next-token cross-entropy + aux-coef x "
                + "load-balancing loss, AdamW, gradient accumulation over the batch.",
                "After every step it writes OUT (router checkpoint) and OUT.state (routers, AdamW moments, step, "
                        + "log rows) atomically; --resume continues a killed run to the same result.",
                "Official recipe: --base-ratios 1,1.75,1.8,1.9,2,2.25,2.5 --top-k 7 --steps 7 --batch 128 --lr 1e-4 "
                        + "--max-len 4608 --aux-coef 0.3.",
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

    @Override
    public Integer call() {
        TrainingData.LossOn lossMode = checkFlags();
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            ModelConfig c = m.config();
            if (maxLen > c.maxPositions())
                System.err.printf(Locale.ROOT, "note: --max-len %d exceeds the model's max_position_embeddings %d%n",
                        maxLen, c.maxPositions());
            Routers initial = initialRouters(c);
            RouterObjective objective = objective(m);
            TrainingData trainingData = TrainingData.load(data, m.tokenizer(), m::chatTemplate, maxLen, lossMode,
                    skipBadLines, maxDocuments == null ? Long.MAX_VALUE : maxDocuments);
            System.err.println("data: " + data + ": " + trainingData.stats());
            if (trainingData.sequences().size() < batch)
                System.err.printf(Locale.ROOT, "note: %d sequences, fewer than --batch %d: a step repeats sequences "
                        + "(the data order moves on to the next epoch)%n", trainingData.sequences().size(), batch);
            Map<String, String> arguments = new LinkedHashMap<>();
            arguments.put("--model", m.path().toAbsolutePath().normalize().toString());
            arguments.put("--data", data.toAbsolutePath().normalize().toString());
            arguments.put("data sha-256 (tokens, mask)", trainingData.digest());
            arguments.put("--init", init == null ? "normal(0, 0.02) with --seed" : init.toAbsolutePath().normalize().toString());
            arguments.put("bases", Arrays.toString(initial.bases()));
            arguments.put("--top-k", Integer.toString(initial.topK()));
            arguments.put("--batch", Integer.toString(batch));
            arguments.put("--lr", Double.toString(lr));
            arguments.put("--warmup-steps", Integer.toString(warmupSteps));
            arguments.put("--weight-decay", Double.toString(weightDecay));
            arguments.put("--max-len", Integer.toString(maxLen));
            arguments.put("--aux-coef", Double.toString(auxCoef));
            arguments.put("--seed", Long.toString(seed));
            arguments.put("--loss-on", lossOn);
            Trainer.Config config = new Trainer.Config(steps, batch, auxCoef, seed,
                    new AdamW.Settings(lr, 0.9, 0.999, 1e-8, weightDecay, warmupSteps), out,
                    Trainer.stateFileFor(out), log, arguments);
            Trainer trainer = new Trainer(config, objective, trainingData, System.err);
            Trainer.Result result = resume ? trainer.resume(initial) : trainer.train(initial);
            System.err.printf(Locale.ROOT, "trained routers (%d steps): %s; state: %s%s%n", result.history().size(), out,
                    config.stateFile(), log == null ? "" : "; log: " + log);
        }
        return 0;
    }

    /**
     * The one place where the training objective is made: the model's forward and backward pass with MoICE attention.
     */
    static RouterObjective objective(LoadedModel m) {
        return new ModelObjective(m.model());
    }

    private TrainingData.LossOn checkFlags() {
        if (steps < 1) throw new MoiceException("--steps " + steps + ": expected a positive integer");
        if (batch < 1) throw new MoiceException("--batch " + batch + ": expected a positive integer");
        if (!(lr > 0) || Double.isInfinite(lr)) throw new MoiceException("--lr " + lr + ": expected a finite value > 0");
        if (warmupSteps < 0) throw new MoiceException("--warmup-steps " + warmupSteps + ": expected an integer >= 0");
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay))
            throw new MoiceException("--weight-decay " + weightDecay + ": expected a finite value >= 0");
        if (maxLen < 2) throw new MoiceException("--max-len " + maxLen + ": expected an integer >= 2");
        if (!(auxCoef >= 0) || Double.isInfinite(auxCoef))
            throw new MoiceException("--aux-coef " + auxCoef + ": expected a finite value >= 0");
        if (maxDocuments != null && maxDocuments < 1)
            throw new MoiceException("--max-documents " + maxDocuments + ": expected a positive integer");
        if (!Files.isRegularFile(data)) throw new MoiceException("--data " + data + ": no such file");
        if (init != null && !Files.isRegularFile(init)) throw new MoiceException("--init " + init + ": no such file");
        if (init == null && (baseChoice == null || topK == null))
            throw new MoiceException("give the experts: --bases or --base-ratios, and --top-k (or start from --init ROUTERS)");
        if (topK != null && topK < 1) throw new MoiceException("--top-k " + topK + ": expected an integer >= 1");
        Path state = Trainer.stateFileFor(out);
        if (resume && !Files.isRegularFile(state))
            throw new MoiceException("--resume: " + state + ": no training state to resume from");
        if (!resume && Files.exists(state))
            throw new MoiceException(state + ": a training state from an earlier run exists; pass --resume to "
                    + "continue it, or delete it to start over");
        if (out.toAbsolutePath().getParent() != null && !Files.isDirectory(out.toAbsolutePath().getParent()))
            throw new MoiceException("--out " + out + ": the directory does not exist");
        return switch (lossOn) {
            case "all" -> TrainingData.LossOn.ALL;
            case "assistant" -> TrainingData.LossOn.ASSISTANT;
            default -> throw new MoiceException("--loss-on " + lossOn + ": expected 'all' or 'assistant'");
        };
    }

    /** Fresh routers (official normal(0, 0.02) from --seed, as 'routers init') or those of --init. */
    private Routers initialRouters(ModelConfig c) {
        double[] bases = baseChoice == null ? null
                : RoutersCommand.resolveBases(baseChoice.bases, baseChoice.ratios, c.ropeTheta());
        if (init == null) {
            checkTopK(topK, bases.length);
            return Routers.random(bases, topK, c.headDim(), c.numLayers(), 0.02, seed);
        }
        Routers r = RouterFile.read(init, c.numLayers(), c.headDim());
        if (bases != null && !Arrays.equals(bases, r.bases()))
            throw new MoiceException("--init " + init + " has bases " + Arrays.toString(r.bases()) + ", not "
                    + Arrays.toString(bases) + " as given");
        if (topK == null || topK == r.topK()) return r;
        checkTopK(topK, r.numExperts());
        return new Routers(r.bases(), topK, r.headDim(), r.gate1(), r.gate2(), r.gate3());
    }

    private static void checkTopK(int k, int n) {
        if (k > n) throw new MoiceException("--top-k " + k + ": expected an integer in [1, " + n + "] (number of bases)");
    }
}
