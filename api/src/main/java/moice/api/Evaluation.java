package moice.api;

import moice.MoiceException;
import moice.eval.DataTask;
import moice.eval.EvalRun;
import moice.eval.PromptEncoder;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.eval.RunHeader;
import moice.eval.Scoring;
import moice.eval.SyntheticTask;
import moice.load.LoadedModel;
import moice.io.download.ModelCache;
import moice.method.MethodFlags;
import moice.method.MethodSpec;
import moice.method.Methods;
import moice.model.Generator;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The evaluation behind {@link Moice#eval} and {@link Moice#mergeEvals} (and {@code bin/moice eval}). */
final class Evaluation {
    private Evaluation() {}

    static List<ResultRow> run(EvalOptions o, PrintStream progress) {
        try (EvalJob job = EvalJob.open(o, progress)) {
            List<ResultRow> rows = job.runHere(progress);
            progress.println("eval: wrote " + o.out().resolve("results.csv") + ", " + o.out().resolve("summary.md")
                    + " and plots");
            return rows;
        }
    }

    /** The options checked, the method specs parsed and a data task's file read: everything that needs no model. */
    record Checked(String task, boolean synthetic, String score, List<Double> depths, List<Integer> lengths,
                   List<MethodSpec> specs, DataTask dataTask) {}

    static Checked check(EvalOptions o) {
        if (o.model() == null) throw new MoiceException("--model is required (unless --merge)");
        if (o.task() == null) throw new MoiceException("--task is required (unless --merge)");
        if (o.out() == null) throw new MoiceException("--out is required");
        String task = o.task();
        boolean synthetic = SyntheticTask.NAMES.contains(task.toLowerCase(Locale.ROOT));
        if (!synthetic && !DataTask.NAMES.contains(task.toLowerCase(Locale.ROOT)))
            throw new MoiceException("--task: unknown task '" + task + "'; expected one of "
                    + String.join(", ", SyntheticTask.NAMES) + ", " + String.join(", ", DataTask.NAMES));
        if (o.samples() < 1) throw new MoiceException("--samples must be at least 1, got " + o.samples());
        String score = (o.score() == null ? Scoring.GENERATE : o.score()).toLowerCase(Locale.ROOT);
        if (!Scoring.NAMES.contains(score))
            throw new MoiceException("--score: expected generate or loglik, got '" + score + "'");
        if (o.maxNewTokens() < 1)
            throw new MoiceException("--max-new-tokens must be at least 1, got " + o.maxNewTokens());
        List<Double> depths = o.depths();
        List<Integer> lengths = o.lengths();
        Path data = o.data();
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
        List<MethodSpec> specs = MethodFlags.methodList(o.methods() == null ? List.of("vanilla") : o.methods(),
                o.abBases(), o.mspoeMin(), o.mspoeMax(), o.mspoeGroupRatios());
        // read the data before the model: a malformed file fails fast
        DataTask dataTask = synthetic ? null : DataTask.open(task, data);
        return new Checked(task, synthetic, score, depths, lengths, specs, dataTask);
    }

    /** The run's arguments as run.json records them. */
    static Map<String, Object> header(EvalOptions o, Checked c, List<Integer> lens, PromptEncoder encoder) {
        Map<String, Object> args = RunHeader.arguments();
        args.put("model", o.model());
        args.put("task", c.task().toLowerCase(Locale.ROOT));
        args.put("data", o.data() == null ? null : o.data().toAbsolutePath().normalize().toString());
        args.put("lengths", lens);
        args.put("depths", c.depths());
        args.put("samples", o.samples());
        args.put("methods", c.specs().stream().map(MethodSpec::label).toList());
        args.put("seed", o.seed());
        args.put("max_new_tokens", o.maxNewTokens());
        args.put("prompt", o.plain() || encoder instanceof PromptEncoder.Plain ? "plain" : "chat");
        args.put("ab_bases", o.abBases());
        args.put("mspoe", o.mspoeMin() == null && o.mspoeMax() == null && !o.mspoeGroupRatios() ? null
                : List.of(String.valueOf(o.mspoeMin()), String.valueOf(o.mspoeMax()),
                o.mspoeGroupRatios() ? "group" : "head"));
        // only a loglik run records its scoring: run.json files of generate runs stay as they were (resumable)
        if (!c.score().equals(Scoring.GENERATE)) args.put("score", c.score());
        return args;
    }

    static Generator.TextStream textStream(Tokenizer tokenizer) {
        var decoder = tokenizer.newStreamDecoder(true);
        return new Generator.TextStream() {
            @Override
            public String push(int id) { return decoder.push(id); }

            @Override
            public String finish() { return decoder.finish(); }
        };
    }

    static PromptEncoder encoder(LoadedModel m, Tokenizer tokenizer, boolean plain, PrintStream progress) {
        if (plain) return new PromptEncoder.Plain(tokenizer);
        ChatTemplate template;
        try {
            template = m.chatTemplate();
        } catch (MoiceException e) {
            progress.println("eval: the model has no chat template; prompts are plain text");
            return new PromptEncoder.Plain(tokenizer);
        }
        return new PromptEncoder.Chat(tokenizer, template);
    }

    /** The union of finished runs' rows (one task, one scoring), reported as one run in {@code out}. */
    static List<ResultRow> merge(List<Path> dirs, Path out, PrintStream progress) {
        System.setProperty("java.awt.headless", "true");
        List<ResultRow> rows = new ArrayList<>();
        String mergedTask = null, mergedScoring = null;
        for (Path dir : dirs) {
            Path csv = dir.resolve("results.csv");
            if (!Files.isRegularFile(csv)) throw new MoiceException(csv + ": no results to merge (--merge)");
            for (ResultRow r : ResultsCsv.read(csv)) {
                if (mergedTask == null) {
                    mergedTask = r.task();
                    mergedScoring = r.scoring();
                } else if (!mergedTask.equals(r.task()))
                    throw new MoiceException("--merge: " + csv + " holds task " + r.task() + ", the others " + mergedTask);
                else if (!mergedScoring.equals(r.scoring()))
                    throw new MoiceException("--merge: " + csv + " holds rows scored by " + r.scoring()
                            + ", the others by " + mergedScoring + " (their 'correct' columns mean different things)");
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
            Files.move(out.resolve("results.csv.tmp"), out.resolve("results.csv"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new MoiceException(out + ": cannot write results.csv: " + e.getMessage());
        }
        EvalRun.writeReports(mergedTask, rows, out, List.of("merged from " + dirs));
        progress.println("eval: merged " + rows.size() + " results into " + out);
        return rows;
    }

    static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new MoiceException(dir + ": cannot create the output folder: " + e.getMessage());
        }
    }
}
