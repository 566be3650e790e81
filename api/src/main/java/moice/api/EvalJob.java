package moice.api;

import moice.MoiceException;
import moice.eval.EvalRun;
import moice.eval.PromptEncoder;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.eval.RunHeader;
import moice.eval.Scoring;
import moice.eval.SyntheticTask;
import moice.io.download.ModelCache;
import moice.load.LoadedModel;
import moice.method.MethodSpec;
import moice.method.Methods;
import moice.tokenizer.Tokenizer;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An evaluation ({@link Moice#eval}) taken apart into independent work items, so that something other than this JVM
 * can run them: {@code moice-spark} runs the items on executors and hands the rows back here. A driver
 * {@linkplain #open opens} the job (checks the options, loads the model, writes or checks {@code run.json}), asks for
 * the {@link #plan}, has the pending items run (each by a worker job, {@link #onWorker}, with {@link #run}), and
 * {@linkplain #finish finishes} with the rows: results.csv in a local run's order, summary.md and plots. A row made by
 * a worker is the row a local run makes for the same item (same prediction, log-likelihood and correctness; only the
 * time and memory columns differ).
 *
 * <p>One job per thread: {@link #run} builds sessions of the shared model, but the job's prompt encoder is not meant
 * for concurrent use. Close the job to unmap a model it loaded itself.
 */
public final class EvalJob implements AutoCloseable {
    private final EvalOptions options;
    private final LoadedModel model;
    private final boolean ownsModel;
    private final EvalRun.Source source;
    private final List<EvalRun.Method> methods;
    private final EvalRun.Settings settings;

    private EvalJob(EvalOptions options, LoadedModel model, boolean ownsModel, EvalRun.Source source,
                    List<EvalRun.Method> methods, EvalRun.Settings settings) {
        this.options = options;
        this.model = model;
        this.ownsModel = ownsModel;
        this.source = source;
        this.methods = methods;
        this.settings = settings;
    }

    /**
     * The driver's job: checks {@code options} (before loading anything), loads the model, creates the output folder
     * and writes {@code run.json} (or checks that an existing one has the same arguments, so that a rerun resumes).
     *
     * @throws MoiceException for bad options, a missing model or a folder holding another run
     */
    public static EvalJob open(EvalOptions options, PrintStream progress) {
        Evaluation.Checked checked = Evaluation.check(options);
        LoadedModel m = LoadedModel.open(ModelCache.resolve(options.model()));
        try {
            EvalJob job = build(options, checked, m, true, progress);
            Evaluation.createDirectories(options.out());
            RunHeader.writeOrCheck(options.out(), Evaluation.header(options, checked, job.settings.lengths(),
                    job.settings.encoder()), EvalRun.hasResults(options.out()));
            return job;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * A worker's job for the same {@code options} on a model this JVM already holds (the caller keeps it open and
     * shares it between jobs); writes nothing. The data file of a data task is read again here, so it must be at the
     * same path on the worker.
     */
    public static EvalJob onWorker(EvalOptions options, LoadedModel model) {
        Evaluation.Checked checked = Evaluation.check(options);
        return build(options, checked, model, false, new PrintStream(OutputStream.nullOutputStream()));
    }

    private static EvalJob build(EvalOptions o, Evaluation.Checked c, LoadedModel m, boolean owns, PrintStream progress) {
        List<EvalRun.Method> runs = new ArrayList<>();
        for (MethodSpec s : c.specs())
            runs.add(new EvalRun.Method(s.label(),
                    Methods.sessions(s.resolve(m.config(), m.builtInRouters(), "--methods"), m.model())));
        Tokenizer tokenizer = m.tokenizer();
        PromptEncoder encoder = Evaluation.encoder(m, tokenizer, o.plain(), progress);
        int context = m.config().maxPositions();
        List<Integer> lens = c.lengths() != null ? c.lengths() : List.of(context - o.maxNewTokens());
        Map<String, Object> args = Evaluation.header(o, c, lens, encoder);
        List<String> notes = List.of("model: " + o.model(), "methods: " + String.join(", ",
                        c.specs().stream().map(MethodSpec::label).toList()),
                "lengths: " + lens + (c.depths() != null ? ", depths: " + c.depths() : "") + ", samples: "
                        + o.samples() + ", seed: " + o.seed() + (c.score().equals(Scoring.GENERATE)
                        ? ", max new tokens: " + o.maxNewTokens() : ", scored by log-likelihood (no decoding)")
                        + ", prompt: " + args.get("prompt"));
        EvalRun.Source source = c.synthetic()
                ? new EvalRun.Synthetic(SyntheticTask.named(c.task()), c.depths(), o.seed())
                : new EvalRun.Data(c.dataTask());
        EvalRun.Settings settings = new EvalRun.Settings(m.config(), encoder, () -> Evaluation.textStream(tokenizer),
                m.stopTokenIds(), o.maxNewTokens(), lens, o.samples(), notes, c.score());
        return new EvalJob(o, m, owns, source, List.copyOf(runs), settings);
    }

    public EvalOptions options() { return options; }

    /** The method labels, in the order {@link EvalRun.Item#method()} indexes them. */
    public List<String> methods() {
        return methods.stream().map(EvalRun.Method::label).toList();
    }

    /** What results.csv holds and lacks (prints a resume line when it holds some). */
    public EvalRun.Plan plan(PrintStream progress) {
        return EvalRun.plan(source, methods(), settings, options.out(), progress);
    }

    /** Runs one item on this JVM: the row a local run writes for it. */
    public ResultRow run(EvalRun.Item item) {
        return EvalRun.runItem(source, methods.get(item.method()), item, settings);
    }

    /** How messages name {@code item}: its sample, method, length and depth. */
    public String describe(EvalRun.Item item) {
        return item.describe(methods());
    }

    /** The resumption key of a row or item: rows with the same key are the same work. */
    public String key(ResultRow row) {
        return EvalRun.keyOf(source, row);
    }

    public String key(EvalRun.Item item) {
        return EvalRun.keyOf(source, methods(), item);
    }

    /** Runs the pending items here, in order, appending each row as it finishes (what {@link Moice#eval} does). */
    List<ResultRow> runHere(PrintStream progress) {
        return EvalRun.run(source, methods, settings, options.out(), progress);
    }

    /**
     * Ends a run whose rows were appended elsewhere: rewrites results.csv atomically with {@code rows} in the order a
     * local run writes them, then summary.md and the plots.
     *
     * @return the rows in that order
     */
    public List<ResultRow> finish(EvalRun.Plan plan, List<ResultRow> rows) {
        List<ResultRow> ordered = EvalRun.canonicalOrder(source, methods(), rows, plan);
        ResultsCsv.rewrite(options.out().resolve("results.csv"), ordered);
        EvalRun.writeReports(source.name(), ordered, options.out(), settings.notes());
        return ordered;
    }

    @Override
    public void close() {
        if (ownsModel) model.close();
    }
}
