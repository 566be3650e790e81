package moice.spark;

import moice.api.Cluster;
import moice.api.EvalOptions;
import moice.api.TrainOptions;
import moice.eval.ResultRow;
import moice.train.Trainer;

import java.io.PrintStream;
import java.util.List;

/**
 * {@link Cluster} on Apache Spark (found by {@link java.util.ServiceLoader}): {@code eval} maps the pending samples
 * over executors ({@link SparkEval}); {@code train-routers} sums each step's per-sequence router gradients over
 * executors with {@code treeAggregate} ({@link SparkGradients}). This class touches no Spark class itself, so that
 * {@link #available} can be asked where Spark is absent.
 */
public final class SparkCluster implements Cluster {
    @Override
    public boolean available() {
        try {
            Class.forName("org.apache.spark.SparkContext", false, SparkCluster.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    @Override
    public List<ResultRow> eval(EvalOptions options, Options cluster, PrintStream progress) {
        return SparkEval.run(options, cluster, progress);
    }

    @Override
    public Trainer.Result trainRouters(TrainOptions options, Options cluster, PrintStream progress) {
        return SparkGradients.train(options, cluster, progress);
    }
}
