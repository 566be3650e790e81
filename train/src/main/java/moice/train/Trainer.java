package moice.train;

import moice.MoiceException;
import moice.attention.Routers;
import moice.io.RouterFile;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Router-only training (docs/method.md): {@code steps} AdamW steps, each over {@code batch} sequences taken in
 * {@link DataOrder} (reshuffled every epoch from the seed), gradients accumulated with scale {@code 1/batch}.
 *
 * <p>After every step (and once before the first) the {@link TrainingState} is written atomically, then the router
 * checkpoint ({@link RouterFile}, atomically), then one CSV log row. The state holds the routers itself, so a run
 * killed at any moment resumes from the state ({@link #resume}) and ends with routers bit-identical to an
 * uninterrupted run, provided the objective is deterministic. A non-finite loss, gradient or weight stops training
 * with a {@link MoiceException}; the files on disk then still hold the last good step.
 */
public final class Trainer {

    /**
     * @param steps       optimizer steps in total (a resumed run continues up to this)
     * @param batch       sequences per step
     * @param auxCoef     weight of the load-balancing loss
     * @param seed        seed of the data order
     * @param optimizer   AdamW settings
     * @param routersOut  router checkpoint written after every step
     * @param stateFile   training state written after every step
     * @param logFile     CSV log, or null for none
     * @param arguments   what shaped the run (model, data digest, hyper-parameters; not {@code steps}): a resume
     *                    must present the same, key for key
     */
    public record Config(int steps, int batch, double auxCoef, long seed, AdamW.Settings optimizer, Path routersOut,
                         Path stateFile, Path logFile, Map<String, String> arguments) {
        public Config {
            if (steps < 1 || batch < 1) throw new IllegalArgumentException("steps and batch must be positive");
            Objects.requireNonNull(routersOut);
            Objects.requireNonNull(stateFile);
            // sorted, so that the state file is the same bytes for the same run
            arguments = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(arguments));
        }
    }

    /** The routers after the last step, and the log rows of all steps (earlier runs included). */
    public record Result(Routers routers, List<TrainingLog.Row> history) {}

    /** The training state kept beside a router checkpoint: {@code OUT.state}. */
    public static Path stateFileFor(Path routersOut) {
        return routersOut.resolveSibling(routersOut.getFileName() + ".state");
    }

    /**
     * Computes one step's batch gradient: {@link #local} on this thread, or on a cluster ({@code moice-spark}).
     * Implementations evaluate every sequence of {@code batch} at {@code routers} into a gradient of its own (added with
     * {@code scale}), sum those per-sequence float gradients in double ({@link RouterGradients#addTo}) and round the
     * sum to float once; so two implementations differ only in the order of the double additions.
     */
    public interface StepGradients {
        /**
         * @param step     1-based step number (for messages)
         * @param batch    the step's sequences, in batch order
         * @param listener told of each sequence as it finishes, where the implementation can (may throw to stop)
         * @return the summed gradient and each sequence's loss, in batch order
         */
        Step compute(int step, List<TokenSequence> batch, Routers routers, double auxCoef, float scale,
                     SequenceListener listener);
    }

    /** Told that sequence {@code j} of the batch finished with loss {@code loss}. */
    public interface SequenceListener {
        void finished(int j, TokenSequence sequence, RouterObjective.Loss loss);
    }

    /** A step's gradient (sum over the batch of scale · ∂loss/∂gates) and the per-sequence losses in batch order. */
    public record Step(RouterGradients gradient, List<RouterObjective.Loss> losses) {}

    /** The batch evaluated here, sequence after sequence, by {@code objective}. */
    public static StepGradients local(RouterObjective objective) {
        return (step, batch, routers, auxCoef, scale, listener) -> {
            RouterGradients one = RouterGradients.zerosLike(routers);
            double[] sum = new double[one.size()];
            List<RouterObjective.Loss> losses = new ArrayList<>();
            for (int j = 0; j < batch.size(); j++) {
                TokenSequence seq = batch.get(j);
                one.clear();
                RouterObjective.Loss l = objective.evaluate(seq.tokens(), seq.targets(), routers, auxCoef, one, scale);
                one.addTo(sum);
                losses.add(l);
                listener.finished(j, seq, l);
            }
            RouterGradients total = RouterGradients.zerosLike(routers);
            total.setFrom(sum);
            return new Step(total, losses);
        };
    }

    private final Config config;
    private final StepGradients gradients;
    private final TrainingData data;
    private final PrintStream progress;

    /** @param progress where progress lines go (stderr in the CLI), or null for silence */
    public Trainer(Config config, RouterObjective objective, TrainingData data, PrintStream progress) {
        this(config, local(objective), data, progress);
    }

    /** A trainer whose batch gradients come from {@code gradients} (e.g. a cluster). */
    public Trainer(Config config, StepGradients gradients, TrainingData data, PrintStream progress) {
        this.config = config;
        this.gradients = gradients;
        this.data = data;
        this.progress = progress;
    }

    /** Trains from {@code initial} (copied); refuses when a training state from an earlier run exists. */
    public Result train(Routers initial) {
        if (Files.exists(config.stateFile()))
            throw new MoiceException(config.stateFile() + ": a training state from an earlier run exists; pass "
                    + "--resume to continue it, or delete it to start over");
        Routers routers = copy(initial);
        TrainingState start = new TrainingState(0, routers, RouterGradients.zerosLike(routers),
                RouterGradients.zerosLike(routers), config.arguments(), List.of());
        start.write(config.stateFile());
        RouterFile.write(routers, config.routersOut());
        return run(start);
    }

    /**
     * Continues the run saved in the state file. {@code shape} gives the expected bases, top-K and sizes (its weights
     * are not used). The arguments must equal the saved ones; {@code steps} may be raised to train further.
     */
    public Result resume(Routers shape) {
        TrainingState state = TrainingState.read(config.stateFile(), shape);
        for (String key : union(state.arguments(), config.arguments())) {
            String saved = state.arguments().get(key), now = config.arguments().get(key);
            if (!Objects.equals(saved, now))
                throw new MoiceException("--resume: " + config.stateFile() + " was made with " + key + " = "
                        + (saved == null ? "(none)" : saved) + ", but this run has " + (now == null ? "(none)" : now)
                        + "; pass the same arguments or start a new run");
        }
        if (state.step() > config.steps())
            throw new MoiceException("--resume: " + config.stateFile() + " is at step " + state.step()
                    + ", beyond --steps " + config.steps());
        // the router file may be one step behind the state (killed between the two writes)
        RouterFile.write(state.routers(), config.routersOut());
        return run(state);
    }

    private static List<String> union(Map<String, String> a, Map<String, String> b) {
        java.util.TreeSet<String> keys = new java.util.TreeSet<>(a.keySet());
        keys.addAll(b.keySet());
        return List.copyOf(keys);
    }

    private Result run(TrainingState from) {
        Routers routers = from.routers();
        AdamW adam = new AdamW(config.optimizer(), from.firstMoments(), from.secondMoments(), from.step());
        List<TrainingLog.Row> history = new ArrayList<>(from.history());
        DataOrder order = new DataOrder(config.seed(), data.sequences().size());
        int batch = config.batch();
        float scale = 1f / batch;
        long runStart = System.nanoTime();
        long sequencesDone = 0, sequencesLeft = (long) (config.steps() - from.step()) * batch;
        try (TrainingLog log = config.logFile() == null ? null : TrainingLog.start(config.logFile(), history)) {
            for (int step = from.step() + 1; step <= config.steps(); step++) {
                long stepStart = System.nanoTime();
                int[] indices = new int[batch];
                List<TokenSequence> sequences = new ArrayList<>(batch);
                for (int j = 0; j < batch; j++) {
                    indices[j] = order.sequenceAt((long) (step - 1) * batch + j);
                    sequences.add(data.sequences().get(indices[j]));
                }
                final int thisStep = step;
                double[] running = new double[2]; // loss and aux so far, for the progress line
                long[] tokensSoFar = new long[1];
                long sequencesBefore = sequencesDone, leftBefore = sequencesLeft;
                Step computed = gradients.compute(step, sequences, routers, config.auxCoef(), scale, (j, seq, l) -> {
                    checkFinite(thisStep, j, indices[j], l);
                    running[0] += l.total();
                    running[1] += l.aux();
                    tokensSoFar[0] += seq.tokens().length;
                    if (progress != null) {
                        long done = sequencesBefore + j + 1;
                        double elapsed = (System.nanoTime() - runStart) * 1e-9;
                        double stepSeconds = (System.nanoTime() - stepStart) * 1e-9;
                        progress.printf(Locale.ROOT, "\rstep %d/%d  seq %d/%d  %.0f tok/s  loss %.4f  aux %.4f  ETA %s ",
                                thisStep, config.steps(), j + 1, batch, stepSeconds > 0 ? tokensSoFar[0] / stepSeconds : 0,
                                running[0] / (j + 1), running[1] / (j + 1),
                                duration(elapsed / done * (leftBefore - j - 1)));
                        progress.flush();
                    }
                });
                if (computed.losses().size() != batch)
                    throw new IllegalStateException(computed.losses().size() + " losses for a batch of " + batch);
                double loss = 0, ce = 0, aux = 0;
                long tokens = 0;
                for (int j = 0; j < batch; j++) { // in batch order, whatever order they were computed in
                    RouterObjective.Loss l = computed.losses().get(j);
                    checkFinite(step, j, indices[j], l);
                    loss += l.total();
                    ce += l.ce();
                    aux += l.aux();
                    tokens += sequences.get(j).tokens().length;
                }
                sequencesDone += batch;
                sequencesLeft -= batch;
                RouterGradients grads = computed.gradient();
                double gradNorm = grads.norm();
                if (!Double.isFinite(gradNorm)) throw stopped(step, "the gradient norm is " + gradNorm);
                double lr = adam.step(routers, grads);
                if (!finite(routers)) throw stopped(step, "the update made router weights non-finite");
                TrainingLog.Row row = new TrainingLog.Row(step, loss / batch, ce / batch, aux / batch, gradNorm, lr,
                        tokens, (System.nanoTime() - stepStart) * 1e-9);
                history.add(row);
                new TrainingState(step, routers, adam.firstMoments(), adam.secondMoments(), config.arguments(),
                        List.copyOf(history)).write(config.stateFile());
                RouterFile.write(routers, config.routersOut());
                if (log != null) log.append(row);
                if (progress != null) {
                    progress.printf(Locale.ROOT, "\rstep %d/%d  loss %.4f  ce %.4f  aux %.4f  |grad| %.4g  lr %.3g  "
                                    + "%.0f tok/s  -> %s%n", step, config.steps(), row.loss(), row.ce(), row.aux(),
                            gradNorm, lr, row.tokensPerSecond(), config.routersOut());
                    progress.flush();
                }
            }
        }
        return new Result(routers, List.copyOf(history));
    }

    private void checkFinite(int step, int j, int index, RouterObjective.Loss l) {
        if (!Double.isFinite(l.total()) || !Double.isFinite(l.ce()) || !Double.isFinite(l.aux()))
            throw stopped(step, "the loss of sequence " + (j + 1) + "/" + config.batch() + " (data sequence "
                    + index + ") is " + l.total() + " (ce " + l.ce() + ", aux " + l.aux() + ")");
    }

    private MoiceException stopped(int step, String why) {
        return new MoiceException("training stopped at step " + step + ": " + why + "; " + config.routersOut()
                + " keeps the routers of step " + (step - 1) + " (the last good one)");
    }

    private static boolean finite(Routers r) {
        for (float[][] gates : new float[][][]{r.gate1(), r.gate2(), r.gate3()})
            for (float[] g : gates) for (float v : g) if (!Float.isFinite(v)) return false;
        return true;
    }

    private static Routers copy(Routers r) {
        return new Routers(r.bases().clone(), r.topK(), r.headDim(), deep(r.gate1()), deep(r.gate2()), deep(r.gate3()));
    }

    private static float[][] deep(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
        return c;
    }

    static String duration(double seconds) {
        if (!Double.isFinite(seconds)) return "?";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
}
