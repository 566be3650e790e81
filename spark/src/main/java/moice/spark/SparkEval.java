package moice.spark;

import moice.MoiceException;
import moice.api.Cluster;
import moice.api.EvalJob;
import moice.api.EvalOptions;
import moice.eval.EvalRun;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.collection.Iterator;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code eval --spark}: the driver opens the job (checks, loads the model for the tokenizer and config, writes or
 * checks run.json) and lists the pending items exactly as a local run does; each item becomes one Spark task (one
 * sample of one method), scored by an executor that loaded the model once per JVM. Each task's row is appended to
 * results.csv when the task's result reaches the driver — a result Spark hands over once per partition, however
 * often a lost executor's task was rerun — so a killed driver loses only running samples and a rerun resumes. At
 * the end results.csv is rewritten in a local run's order, with summary.md and the plots.
 *
 * <p>A sample that fails on its input (a {@link MoiceException}: a prompt too long for the model, a malformed
 * record) is not a task failure, which Spark would retry: the task returns the error, the driver cancels the job and
 * fails with a message naming the sample. Rows finished before stay in results.csv.
 */
final class SparkEval {
    private SparkEval() {}

    /** A task's answer: the row, or why the sample could not be scored. */
    record Outcome(ResultRow row, String error) implements Serializable {}

    static List<ResultRow> run(EvalOptions options, Cluster.Options cluster, PrintStream progress) {
        try (EvalJob job = EvalJob.open(options, progress)) {
            EvalRun.Plan plan = job.plan(progress);
            List<ResultRow> rows = new ArrayList<>(plan.done());
            if (!plan.pending().isEmpty())
                try (JavaSparkContext sc = Contexts.open(cluster, "moice eval " + options.task())) {
                    progress.printf("eval: %d samples on Spark %s (%d task slots)%n", plan.pending().size(),
                            sc.master(), sc.defaultParallelism());
                    score(sc, job, plan, rows, progress);
                }
            List<ResultRow> ordered = job.finish(plan, rows);
            progress.println("eval: wrote " + options.out().resolve("results.csv") + ", "
                    + options.out().resolve("summary.md") + " and plots");
            return ordered;
        }
    }

    private static void score(JavaSparkContext sc, EvalJob job, EvalRun.Plan plan, List<ResultRow> rows,
                              PrintStream progress) {
        List<EvalRun.Item> pending = plan.pending();
        JavaRDD<EvalRun.Item> items = sc.parallelize(pending, pending.size());
        Set<String> seen = new HashSet<>();
        for (ResultRow r : rows) seen.add(job.key(r));
        String group = "moice-eval-" + System.nanoTime();
        sc.setJobGroup(group, "moice eval", true);
        AtomicReference<String> failure = new AtomicReference<>();
        int total = plan.all().size();
        int[] finished = {total - pending.size()};
        long started = System.nanoTime();
        try (ResultsCsv writer = ResultsCsv.append(job.options().out().resolve("results.csv"))) {
            // runs on the driver, once per finished partition
            AbstractFunction2<Object, Outcome[], BoxedUnit> collect = new AbstractFunction2<>() {
                @Override
                public BoxedUnit apply(Object partition, Outcome[] outcomes) {
                    synchronized (seen) {
                        for (Outcome o : outcomes) {
                            if (o.error() != null) {
                                if (failure.compareAndSet(null, o.error())) sc.cancelJobGroup(group);
                                continue;
                            }
                            if (!seen.add(job.key(o.row()))) continue; // never twice in results.csv
                            writer.write(o.row());
                            rows.add(o.row());
                            int ranNow = ++finished[0] - (total - pending.size());
                            double elapsed = (System.nanoTime() - started) / 1e9;
                            progress.println(EvalRun.progressLine(finished[0], total, o.row(),
                                    EvalRun.duration(elapsed / ranNow * (total - finished[0]))));
                        }
                    }
                    return BoxedUnit.UNIT;
                }
            };
            try {
                sc.sc().runJob(items.rdd(), new ScoreItems(EvalSpec.of(job.options())), collect,
                        ClassTag$.MODULE$.apply(Outcome[].class));
            } catch (Exception e) { // SparkException is checked, and Scala throws it undeclared
                if (failure.get() == null)
                    throw new MoiceException("eval --spark: the Spark job failed: " + firstLine(e));
            }
        }
        if (failure.get() != null) throw new MoiceException(failure.get());
    }

    private static String firstLine(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && !(root instanceof SparkException)) root = root.getCause();
        String m = String.valueOf(root.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** The executor side: scores the items of one partition with this JVM's copy of the model. */
    static final class ScoreItems extends AbstractFunction1<Iterator<EvalRun.Item>, Outcome[]> implements Serializable {
        private final EvalSpec spec;

        ScoreItems(EvalSpec spec) {
            this.spec = spec;
        }

        @Override
        public Outcome[] apply(Iterator<EvalRun.Item> items) {
            List<EvalRun.Item> mine = new ArrayList<>();
            while (items.hasNext()) mine.add(items.next());
            return WorkerModels.withEvalJob(spec, job -> {
                List<Outcome> out = new ArrayList<>();
                for (EvalRun.Item item : mine) {
                    try {
                        out.add(new Outcome(job.run(item), null));
                    } catch (MoiceException | IllegalArgumentException e) {
                        out.add(new Outcome(null, "eval: " + job.describe(item) + ": " + e.getMessage()));
                    }
                }
                return out.toArray(new Outcome[0]);
            });
        }
    }
}
