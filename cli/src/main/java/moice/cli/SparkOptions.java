package moice.cli;

import moice.MoiceException;
import moice.api.Cluster;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code --spark MASTER} and {@code --spark-conf KEY=VALUE} of eval and train-routers (docs/spark.md).
 *
 * <p>This module does not depend on Spark: moice-spark comes along at run time, Spark does not. When Spark is on the
 * class path (a JVM started by {@code spark-submit} with {@code moice-spark.jar}, or the JVM this class starts) the
 * command runs through {@link Cluster}; otherwise it is run again in a child JVM whose class path is this one's plus
 * Spark's: {@code MOICE_SPARK_CLASSPATH}, or the one the build wrote to {@code spark/target/spark-classpath.txt}. The
 * child's heap is {@code MOICE_SPARK_DRIVER_MEMORY} (default 2g); its output is this process's.
 */
final class SparkOptions {
    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Run on Apache Spark: local[N], spark://HOST:7077, yarn, k8s://..., or 'submit' (the master "
                    + "spark-submit was given). The model (and data, router files) must be at the same path on every "
                    + "worker. See docs/spark.md.")
    String master;

    @Option(names = "--spark-conf", paramLabel = "KEY=VALUE",
            description = "A Spark setting (repeatable), e.g. spark.executor.memory=3g.")
    List<String> conf;

    /** Set in the child JVM: it must find {@link Cluster}, never start another child. */
    static final String CHILD_PROPERTY = "moice.spark.child";

    boolean requested() {
        return master != null;
    }

    Cluster.Options options() {
        Map<String, String> settings = new LinkedHashMap<>();
        if (conf != null)
            for (String kv : conf) {
                int eq = kv.indexOf('=');
                if (eq <= 0) throw new MoiceException("--spark-conf " + kv + ": expected KEY=VALUE");
                settings.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        return new Cluster.Options(master, settings);
    }

    /**
     * The cluster implementation when this JVM has it; empty when the command was run in a child JVM that has it (its
     * exit code is then thrown as {@link Relaunched}).
     */
    Optional<Cluster> clusterOrRelaunch(List<String> originalArgs) {
        Optional<Cluster> here = Cluster.find().filter(Cluster::available);
        if (here.isPresent()) return here;
        if (Boolean.getBoolean(CHILD_PROPERTY))
            throw new MoiceException("--spark: moice-spark is not on this JVM's class path (MOICE_SPARK_CLASSPATH)");
        throw new Relaunched(relaunch(originalArgs));
    }

    /** The exit code of the child JVM that ran the command. */
    static final class Relaunched extends RuntimeException {
        final int code;

        Relaunched(int code) {
            super(null, null, false, false);
            this.code = code;
        }
    }

    private static int relaunch(List<String> args) {
        String cp = classPath();
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
                "-Xmx" + env("MOICE_SPARK_DRIVER_MEMORY", "2g"), "-D" + CHILD_PROPERTY + "=true",
                "-Djava.awt.headless=true"));
        // Spark's own log at WARN (the configuration is a resource of moice-spark)
        cmd.add("-Dlog4j2.configurationFile=classpath:moice-spark-log4j2.properties");
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path") + java.io.File.pathSeparator + cp,
                "moice.cli.Main"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        // Spark binds to this address; without it, it picks the first non-loopback interface
        pb.environment().putIfAbsent("SPARK_LOCAL_IP", "127.0.0.1");
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            Thread out = pump(p.getInputStream(), System.out), err = pump(p.getErrorStream(), System.err);
            int code = p.waitFor();
            out.join();
            err.join();
            return code;
        } catch (IOException e) {
            throw new MoiceException("--spark: cannot start " + javaBin + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MoiceException("--spark: interrupted");
        }
    }

    private static Thread pump(InputStream in, PrintStream to) {
        Thread t = Thread.ofVirtual().start(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    to.write(buf, 0, n);
                    to.flush();
                }
            } catch (IOException ignored) {
                // the child ended
            }
        });
        return t;
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    /** Spark's class path: MOICE_SPARK_CLASSPATH, or the one the build wrote. */
    static String classPath() {
        String given = System.getenv("MOICE_SPARK_CLASSPATH");
        if (given != null && !given.isBlank()) return given;
        Path file = root().resolve("spark/target/spark-classpath.txt");
        if (!Files.isRegularFile(file))
            throw new MoiceException("--spark: moice-spark is not built (no " + file + "); build it with 'mvn -pl spark "
                    + "-am package -DskipTests' or set MOICE_SPARK_CLASSPATH");
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** The source tree this CLI was built from: cli/target/{moice.jar,classes} → the folder above cli. */
    private static Path root() {
        try {
            Path here = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return here.toAbsolutePath().getParent().getParent().getParent();
        } catch (Exception e) {
            throw new MoiceException("--spark: cannot tell where moice is installed (" + e.getMessage()
                    + "); set MOICE_SPARK_CLASSPATH");
        }
    }
}
