package moice.api;

import moice.eval.ResultRow;
import moice.train.Trainer;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Runs an evaluation or a router training on a cluster instead of this JVM alone: {@code bin/moice eval --spark
 * MASTER} and {@code bin/moice train-routers --spark MASTER}. The implementation ({@code moice.spark.SparkCluster} in
 * the {@code moice-spark} module) is found at run time with {@link ServiceLoader}, so that this API, the engine and
 * the command line do not carry a cluster engine; where it is absent, {@link #find} is empty (the command line then
 * starts a JVM that has it, see docs/spark.md).
 *
 * <p>Contract: {@link #eval} writes the same {@code results.csv} (rows in a local run's order), {@code run.json},
 * summary and plots as {@link Moice#eval}, with rows equal to a local run's but for the time and memory columns; it
 * resumes like it. {@link #trainRouters} is {@link Moice#trainRouters} with each step's batch gradient computed by the
 * cluster: equal to the local run up to the order of the gradient sums, with the same checkpoints and resumption.
 */
public interface Cluster {
    /**
     * @param master the cluster's master URL ({@code local[2]}, {@code spark://host:7077}, {@code yarn},
     *               {@code k8s://...}), or {@code submit} to take the one that {@code spark-submit} was given
     * @param conf   further engine settings (for Spark: {@code spark.*} keys), applied last
     */
    record Options(String master, Map<String, String> conf) {
        public Options {
            if (master == null || master.isBlank()) throw new IllegalArgumentException("a master URL is required");
            conf = Map.copyOf(conf);
        }
    }

    /** {@link Moice#eval} with the samples scored on the cluster's executors. */
    List<ResultRow> eval(EvalOptions options, Options cluster, PrintStream progress);

    /** {@link Moice#trainRouters} with each step's batch split over the cluster's executors. */
    Trainer.Result trainRouters(TrainOptions options, Options cluster, PrintStream progress);

    /**
     * Whether this JVM can run the cluster's driver: the implementation's module may be on the class path without
     * the engine it needs (the command line carries moice-spark but not Spark). Must not load the engine's classes.
     */
    boolean available();

    /** The cluster implementation on the class path, if any. */
    static Optional<Cluster> find() {
        return ServiceLoader.load(Cluster.class).findFirst();
    }
}
