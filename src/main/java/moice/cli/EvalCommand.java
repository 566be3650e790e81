package moice.cli;

import moice.MoiceException;
import moice.eval.DataTask;
import moice.eval.EvalRun;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.eval.PromptEncoder;
import moice.eval.RunHeader;
import moice.eval.SyntheticTask;
import moice.io.LoadedModel;
import moice.io.download.ModelCache;
import moice.method.MethodSpec;
import moice.method.Methods;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code bin/moice eval}: long-context accuracy of several attention methods, with CSV, Markdown and PNG reports. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs a long-context task with greedy decoding for every method × length × depth × sample and "
                + "writes DIR/results.csv (one row per sample, appended as it runs: a rerun with the same arguments "
                + "resumes), DIR/summary.md (accuracy by depth and length, Gap, time and memory per method), "
                + "DIR/accuracy_by_depth.png and DIR/heatmap_<method>.png. Progress goes to stderr.",
                "Synthetic tasks (offline, seeded): passkey, kv (UUID key-value retrieval), synthetic-qa (made-up "
                        + "multi-document QA), niah (needle in a haystack).",
                "Tasks read from --data: mdqa (lost-in-the-middle qa_data *.jsonl.gz), leval-coursera, leval-quality, "
                        + "leval-tpo, leval-sci_fi (L-Eval closed-ended *.jsonl), longbench (LongBench English QA *.jsonl).",
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

    @Override
    public Integer call() {
        System.setProperty("java.awt.headless", "true");
        if (merge != null) return merge();
        if (model == null) throw new MoiceException("--model is required (unless --merge)");
        if (task == null) throw new MoiceException("--task is required (unless --merge)");
        boolean synthetic = SyntheticTask.NAMES.contains(task.toLowerCase(Locale.ROOT));
        if (!synthetic && !DataTask.NAMES.contains(task.toLowerCase(Locale.ROOT)))
            throw new MoiceException("--task: unknown task '" + task + "'; expected one of "
                    + String.join(", ", SyntheticTask.NAMES) + ", " + String.join(", ", DataTask.NAMES));
        if (samples < 1) throw new MoiceException("--samples must be at least 1, got " + samples);
        score = score.toLowerCase(Locale.ROOT);
        if (!moice.eval.Scoring.NAMES.contains(score))
            throw new MoiceException("--score: expected generate or loglik, got '" + score + "'");
        if (maxNewTokens < 1) throw new MoiceException("--max-new-tokens must be at least 1, got " + maxNewTokens);
        if (synthetic) {
            if (data != null) throw new MoiceException("--data is for the data-file tasks; " + task + " is generated");
            if (lengths == null || lengths.isEmpty()) throw new MoiceException("--lengths is required for task " + task);
            if (depths == null) depths = List.of(0.0, 0.25, 0.5, 0.75, 1.0);
            for (double d : depths)
                if (!(d >= 0 && d <= 1)) throw new MoiceException("--depths: every depth must be in [0, 1], got " + d);
        } else {
            if (data == null) throw new MoiceException("--task " + task + " reads its samples from --data FILE");
            if (!Files.isRegularFile(data)) throw new MoiceException(data + ": no such data file (--data)");
            if (depths != null)
                throw new MoiceException("--depths: task " + task + " takes positions from its data file");
        }
        if (lengths != null)
            for (int l : lengths) if (l < 1) throw new MoiceException("--lengths: every length must be positive, got " + l);
        List<MethodSpec> specs = AttentionOptions.methodList(methods, abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
        // read the data before the model: a malformed file fails fast
        DataTask dataTask = synthetic ? null : DataTask.open(task, data);

        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            List<EvalRun.Method> runs = new ArrayList<>();
            for (MethodSpec s : specs)
                runs.add(new EvalRun.Method(s.label(),
                        Methods.sessions(s.resolve(m.config(), m.builtInRouters(), "--methods"), m.model())));
            Tokenizer tokenizer = m.tokenizer();
            PromptEncoder encoder = encoder(m, tokenizer);
            int context = m.config().maxPositions();
            List<Integer> lens = lengths != null ? lengths : List.of(context - maxNewTokens);
            createDirectories(out);
            Map<String, Object> args = RunHeader.arguments();
            args.put("model", model);
            args.put("task", task.toLowerCase(Locale.ROOT));
            args.put("data", data == null ? null : data.toAbsolutePath().normalize().toString());
            args.put("lengths", lens);
            args.put("depths", depths);
            args.put("samples", samples);
            args.put("methods", specs.stream().map(MethodSpec::label).toList());
            args.put("seed", seed);
            args.put("max_new_tokens", maxNewTokens);
            args.put("prompt", plain || encoder instanceof PlainEncoder ? "plain" : "chat");
            args.put("ab_bases", abBases);
            args.put("mspoe", mspoeMin == null && mspoeMax == null && !mspoeGroupRatios ? null
                    : List.of(String.valueOf(mspoeMin), String.valueOf(mspoeMax), mspoeGroupRatios ? "group" : "head"));
            // only a loglik run records its scoring: run.json files of generate runs stay as they were (resumable)
            if (!score.equals(moice.eval.Scoring.GENERATE)) args.put("score", score);
            RunHeader.writeOrCheck(out, args, EvalRun.hasResults(out));
            List<String> notes = List.of("model: " + model, "methods: " + String.join(", ",
                            specs.stream().map(MethodSpec::label).toList()),
                    "lengths: " + lens + (depths != null ? ", depths: " + depths : "") + ", samples: " + samples
                            + ", seed: " + seed + (score.equals(moice.eval.Scoring.GENERATE) ? ", max new tokens: " + maxNewTokens
                            : ", scored by log-likelihood (no decoding)") + ", prompt: " + args.get("prompt"));
            EvalRun.Source source = synthetic
                    ? new EvalRun.Synthetic(SyntheticTask.named(task), depths, seed)
                    : new EvalRun.Data(dataTask);
            EvalRun.Settings settings = new EvalRun.Settings(m.config(), encoder,
                    () -> GenerateCommand.streamOf(tokenizer.newStreamDecoder(true)), m.stopTokenIds(), maxNewTokens,
                    lens, samples, notes, score);
            PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
            EvalRun.run(source, runs, settings, out, err);
            err.println("eval: wrote " + out.resolve("results.csv") + ", " + out.resolve("summary.md") + " and plots");
        }
        return 0;
    }

    /** {@code --merge}: the union of finished runs' rows (one task), reported as one run. */
    private int merge() {
        List<ResultRow> rows = new ArrayList<>();
        String mergedTask = null, mergedScoring = null;
        for (Path dir : merge) {
            Path csv = dir.resolve("results.csv");
            if (!Files.isRegularFile(csv)) throw new MoiceException(csv + ": no results to merge (--merge)");
            for (ResultRow r : ResultsCsv.read(csv)) {
                if (mergedTask == null) {
                    mergedTask = r.task();
                    mergedScoring = r.scoring();
                } else if (!mergedTask.equals(r.task()))
                    throw new MoiceException("--merge: " + csv + " holds task " + r.task() + ", the others " + mergedTask);
                else if (!mergedScoring.equals(r.scoring()))
                    throw new MoiceException("--merge: " + csv + " holds rows scored by " + r.scoring() + ", the others by "
                            + mergedScoring + " (their 'correct' columns mean different things)");
                rows.add(r);
            }
        }
        if (rows.isEmpty()) throw new MoiceException("--merge: the folders hold no results");
        createDirectories(out);
        try {
            Files.deleteIfExists(out.resolve("results.csv.tmp"));
        } catch (IOException e) {
            throw new MoiceException(out + ": cannot write results.csv: " + e.getMessage());
        }
        try (ResultsCsv all = ResultsCsv.append(out.resolve("results.csv.tmp"))) {
            rows.forEach(all::write);
        }
        try {
            Files.move(out.resolve("results.csv.tmp"), out.resolve("results.csv"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new MoiceException(out + ": cannot write results.csv: " + e.getMessage());
        }
        EvalRun.writeReports(mergedTask, rows, out, List.of("merged from " + merge));
        System.err.println("eval: merged " + rows.size() + " results into " + out);
        return 0;
    }

    private PromptEncoder encoder(LoadedModel m, Tokenizer tokenizer) {
        if (plain) return new PlainEncoder(tokenizer);
        ChatTemplate template;
        try {
            template = m.chatTemplate();
        } catch (MoiceException e) {
            System.err.println("eval: the model has no chat template; prompts are plain text");
            return new PlainEncoder(tokenizer);
        }
        return new PromptEncoder() {
            @Override
            public int[] encode(String system, String user, String answerPrefix) {
                List<ChatTemplate.Message> messages = new ArrayList<>();
                if (system != null) messages.add(ChatTemplate.Message.system(system));
                messages.add(ChatTemplate.Message.user(user));
                return tokenizer.encode(template.render(messages, true) + answerPrefix, false);
            }

            @Override
            public int[] tokens(String text) { return tokenizer.encode(text, false); }

            @Override
            public String text(int[] ids) { return tokenizer.decode(ids, false); }
        };
    }

    /** Prompts as plain text: system message, a blank line, the user message, the answer prefix. */
    record PlainEncoder(Tokenizer tokenizer) implements PromptEncoder {
        @Override
        public int[] encode(String system, String user, String answerPrefix) {
            return tokenizer.encode((system != null ? system + "\n\n" : "") + user + answerPrefix, true);
        }

        @Override
        public int[] tokens(String text) { return tokenizer.encode(text, false); }

        @Override
        public String text(int[] ids) { return tokenizer.decode(ids, false); }

        @Override
        public String answerSeparator() { return " "; }
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new MoiceException(dir + ": cannot create the output folder: " + e.getMessage());
        }
    }
}
