package moice.api;

import moice.MoiceException;
import moice.attention.Routers;
import moice.load.LoadedModel;
import moice.io.RouterFile;
import moice.io.download.ModelCache;
import moice.method.MethodFlags;
import moice.model.ModelConfig;
import moice.train.AdamW;
import moice.train.ModelObjective;
import moice.train.RouterObjective;
import moice.train.Trainer;
import moice.train.TrainingData;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The router training behind {@link Moice#trainRouters} (and {@code bin/moice train-routers}). */
final class RouterTraining {
    private RouterTraining() {}

    static Trainer.Result run(TrainOptions o, PrintStream progress) {
        return run(o, progress, null);
    }

    /** @param gradients where the batch gradients are computed; null = on this thread, with the loaded model */
    static Trainer.Result run(TrainOptions o, PrintStream progress, Trainer.StepGradients gradients) {
        TrainingData.LossOn lossMode = check(o);
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(o.model()))) {
            ModelConfig c = m.config();
            if (o.maxLen() > c.maxPositions())
                progress.printf(Locale.ROOT, "note: --max-len %d exceeds the model's max_position_embeddings %d%n",
                        o.maxLen(), c.maxPositions());
            Routers initial = initialRouters(o, c);
            RouterObjective objective = new ModelObjective(m.model());
            TrainingData trainingData = TrainingData.load(o.data(), m.tokenizer(), m::chatTemplate, o.maxLen(), lossMode,
                    o.skipBadLines(), o.maxDocuments() == null ? Long.MAX_VALUE : o.maxDocuments());
            progress.println("data: " + o.data() + ": " + trainingData.stats());
            if (trainingData.sequences().size() < o.batch())
                progress.printf(Locale.ROOT, "note: %d sequences, fewer than --batch %d: a step repeats sequences "
                        + "(the data order moves on to the next epoch)%n", trainingData.sequences().size(), o.batch());
            Map<String, String> arguments = new LinkedHashMap<>();
            arguments.put("--model", m.path().toAbsolutePath().normalize().toString());
            arguments.put("--data", o.data().toAbsolutePath().normalize().toString());
            arguments.put("data sha-256 (tokens, mask)", trainingData.digest());
            arguments.put("--init", o.init() == null ? "normal(0, 0.02) with --seed"
                    : o.init().toAbsolutePath().normalize().toString());
            arguments.put("bases", Arrays.toString(initial.bases()));
            arguments.put("--top-k", Integer.toString(initial.topK()));
            arguments.put("--batch", Integer.toString(o.batch()));
            arguments.put("--lr", Double.toString(o.lr()));
            arguments.put("--warmup-steps", Integer.toString(o.warmupSteps()));
            arguments.put("--weight-decay", Double.toString(o.weightDecay()));
            arguments.put("--max-len", Integer.toString(o.maxLen()));
            arguments.put("--aux-coef", Double.toString(o.auxCoef()));
            arguments.put("--seed", Long.toString(o.seed()));
            arguments.put("--loss-on", o.lossOn());
            Trainer.Config config = new Trainer.Config(o.steps(), o.batch(), o.auxCoef(), o.seed(),
                    new AdamW.Settings(o.lr(), 0.9, 0.999, 1e-8, o.weightDecay(), o.warmupSteps()), o.out(),
                    Trainer.stateFileFor(o.out()), o.log(), arguments);
            Trainer trainer = new Trainer(config, gradients == null ? Trainer.local(objective) : gradients,
                    trainingData, progress);
            Trainer.Result result = o.resume() ? trainer.resume(initial) : trainer.train(initial);
            progress.printf(Locale.ROOT, "trained routers (%d steps): %s; state: %s%s%n", result.history().size(),
                    o.out(), config.stateFile(), o.log() == null ? "" : "; log: " + o.log());
            return result;
        }
    }

    /** Every check that needs no model, so that a bad option fails before the model is loaded. */
    static TrainingData.LossOn check(TrainOptions o) {
        if (o.model() == null || o.data() == null || o.out() == null)
            throw new MoiceException("--model, --data and --out are required");
        if (o.steps() < 1) throw new MoiceException("--steps " + o.steps() + ": expected a positive integer");
        if (o.batch() < 1) throw new MoiceException("--batch " + o.batch() + ": expected a positive integer");
        if (!(o.lr() > 0) || Double.isInfinite(o.lr()))
            throw new MoiceException("--lr " + o.lr() + ": expected a finite value > 0");
        if (o.warmupSteps() < 0)
            throw new MoiceException("--warmup-steps " + o.warmupSteps() + ": expected an integer >= 0");
        if (!(o.weightDecay() >= 0) || Double.isInfinite(o.weightDecay()))
            throw new MoiceException("--weight-decay " + o.weightDecay() + ": expected a finite value >= 0");
        if (o.maxLen() < 2) throw new MoiceException("--max-len " + o.maxLen() + ": expected an integer >= 2");
        if (!(o.auxCoef() >= 0) || Double.isInfinite(o.auxCoef()))
            throw new MoiceException("--aux-coef " + o.auxCoef() + ": expected a finite value >= 0");
        if (o.maxDocuments() != null && o.maxDocuments() < 1)
            throw new MoiceException("--max-documents " + o.maxDocuments() + ": expected a positive integer");
        if (!Files.isRegularFile(o.data())) throw new MoiceException("--data " + o.data() + ": no such file");
        if (o.init() != null && !Files.isRegularFile(o.init()))
            throw new MoiceException("--init " + o.init() + ": no such file");
        if (o.bases() != null && o.baseRatios() != null)
            throw new MoiceException("--bases and --base-ratios are mutually exclusive");
        if (o.init() == null && ((o.bases() == null && o.baseRatios() == null) || o.topK() == null))
            throw new MoiceException("give the experts: --bases or --base-ratios, and --top-k (or start from --init ROUTERS)");
        if (o.topK() != null && o.topK() < 1) throw new MoiceException("--top-k " + o.topK() + ": expected an integer >= 1");
        Path state = Trainer.stateFileFor(o.out());
        if (o.resume() && !Files.isRegularFile(state))
            throw new MoiceException("--resume: " + state + ": no training state to resume from");
        if (!o.resume() && Files.exists(state))
            throw new MoiceException(state + ": a training state from an earlier run exists; pass --resume to "
                    + "continue it, or delete it to start over");
        if (o.out().toAbsolutePath().getParent() != null && !Files.isDirectory(o.out().toAbsolutePath().getParent()))
            throw new MoiceException("--out " + o.out() + ": the directory does not exist");
        String lossOn = o.lossOn() == null ? "all" : o.lossOn();
        return switch (lossOn) {
            case "all" -> TrainingData.LossOn.ALL;
            case "assistant" -> TrainingData.LossOn.ASSISTANT;
            default -> throw new MoiceException("--loss-on " + lossOn + ": expected 'all' or 'assistant'");
        };
    }

    /** Fresh routers (official normal(0, 0.02) from the seed, as 'routers init') or those of init. */
    private static Routers initialRouters(TrainOptions o, ModelConfig c) {
        double[] bases = o.bases() == null && o.baseRatios() == null ? null
                : MethodFlags.resolveBases(o.bases(), o.baseRatios(), c.ropeTheta());
        Integer topK = o.topK();
        if (o.init() == null) {
            checkTopK(topK, bases.length);
            return Routers.random(bases, topK, c.headDim(), c.numLayers(), 0.02, o.seed());
        }
        Routers r = RouterFile.read(o.init(), c.numLayers(), c.headDim());
        if (bases != null && !Arrays.equals(bases, r.bases()))
            throw new MoiceException("--init " + o.init() + " has bases " + Arrays.toString(r.bases()) + ", not "
                    + Arrays.toString(bases) + " as given");
        if (topK == null || topK == r.topK()) return r;
        checkTopK(topK, r.numExperts());
        return new Routers(r.bases(), topK, r.headDim(), r.gate1(), r.gate2(), r.gate3());
    }

    private static void checkTopK(int k, int n) {
        if (k > n) throw new MoiceException("--top-k " + k + ": expected an integer in [1, " + n + "] (number of bases)");
    }
}
