package moice.spark;

import moice.MoiceException;
import moice.api.Cluster;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;

/** The Spark context of a moice job. */
final class Contexts {
    /**
     * What executors need to run moice: the Vector API (an incubator module in JDK 25) and native access for the
     * memory-mapped weights; the same flags bin/moice gives its own JVM.
     */
    static final String EXECUTOR_JAVA_OPTIONS =
            "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC";

    private Contexts() {}

    /**
     * A context for {@code cluster}: its master (or, for {@code submit}, the one spark-submit set) and
     * {@code cluster.conf()}; unless set there or by spark-submit: no web UI, the executor JVM flags above, and
     * {@code MOICE_THREADS} = {@code spark.task.cpus} in the executors' environment.
     */
    static JavaSparkContext open(Cluster.Options cluster, String appName) {
        SparkConf conf = new SparkConf(); // takes the spark.* system properties that spark-submit sets
        if (!cluster.master().equals("submit")) conf.setMaster(cluster.master());
        else if (!conf.contains("spark.master"))
            throw new MoiceException("--spark submit: no master was given to spark-submit (spark.master is not set)");
        conf.setAppName(appName);
        cluster.conf().forEach(conf::set);
        conf.setIfMissing("spark.ui.enabled", "false");
        conf.setIfMissing("spark.executor.extraJavaOptions", EXECUTOR_JAVA_OPTIONS);
        // one moice thread per CPU a task holds: an executor of C cores runs C/task.cpus tasks at once
        conf.setIfMissing("spark.executorEnv.MOICE_THREADS", conf.get("spark.task.cpus", "1"));
        return new JavaSparkContext(SparkContext.getOrCreate(conf));
    }
}
