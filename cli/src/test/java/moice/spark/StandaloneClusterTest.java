package moice.spark;

import moice.attention.Routers;
import moice.cli.CliTest;
import moice.cli.TinyChatModel;
import moice.eval.ResultRow;
import moice.eval.ResultsCsv;
import moice.train.Trainer;
import moice.train.TrainingState;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A Spark standalone cluster on this machine, bound to 127.0.0.1 only: a master and two one-core workers, each its own
 * JVM started as Spark's sbin scripts start them ({@code java -cp $SPARK_HOME/jars/* ...Master|Worker}), and jobs
 * submitted as bin/spark-submit submits them ({@code java -cp $SPARK_HOME/jars/* org.apache.spark.deploy.SparkSubmit
 * --class moice.cli.Main cli/target/moice-spark.jar ...}). SPARK_HOME is a folder whose jars/ links the Spark jars
 * the build resolved (spark/target/spark-classpath.txt); the application jar must have been built
 * ({@code mvn package}). Run by .ci/run (MOICE_SPARK_CLUSTER=1), not by the default suite: it takes a few minutes.
 *
 * <p>Checked: an eval during which one worker (and its executor) is killed completes, with rows equal to a local
 * run's and none twice; a training whose driver is killed after its first step resumes with {@code --resume} and
 * ends as the local run does (losses of the first step bit-equal; routers within 2·lr per step, the most Adam can
 * move a weight).
 */
@EnabledIfEnvironmentVariable(named = "MOICE_SPARK_CLUSTER", matches = "1")
class StandaloneClusterTest {
    @TempDir
    static Path tmp;
    static Path model, sparkHome, appJar;
    static String java, master;
    static final List<Process> started = new ArrayList<>();
    static Process worker1;
    static final long SECONDS = 240;

    @BeforeAll
    static void startCluster() throws Exception {
        model = TinyChatModel.write(tmp.resolve("tiny"), 3, 1024);
        java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path root = Path.of("").toAbsolutePath().getParent();
        appJar = root.resolve("cli/target/moice-spark.jar");
        assertTrue(Files.isRegularFile(appJar), appJar + " is missing: run 'mvn package -DskipTests' first");
        // under target/, not the test's temporary folder (whose clean-up warns about every link)
        sparkHome = root.resolve("cli/target/spark-home/jars");
        if (Files.exists(sparkHome))
            try (var old = Files.list(sparkHome)) {
                for (Path p : old.toList()) Files.delete(p);
            }
        Files.createDirectories(sparkHome);
        for (String entry : Files.readString(root.resolve("spark/target/spark-classpath.txt")).strip()
                .split(File.pathSeparator)) {
            Path jar = Path.of(entry);
            if (jar.startsWith(root) || !entry.endsWith(".jar")) continue; // moice's own modules: in the app jar
            Files.createSymbolicLink(sparkHome.resolve(jar.getFileName()), jar);
        }
        sparkHome = sparkHome.getParent();
        int port = freePort();
        master = "spark://127.0.0.1:" + port;
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                String.valueOf(port), "--webui-port", String.valueOf(freePort()));
        waitForLog("master", "I have been elected leader");
        worker1 = start("worker1", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                "--memory", "1g", "--webui-port", String.valueOf(freePort()), "--work-dir",
                tmp.resolve("work1").toString(), master);
        start("worker2", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                "--memory", "1g", "--webui-port", String.valueOf(freePort()), "--work-dir",
                tmp.resolve("work2").toString(), master);
        waitForLog("worker1", "Successfully registered with master");
        waitForLog("worker2", "Successfully registered with master");
    }

    @AfterAll
    static void stopCluster() {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static ProcessBuilder sparkJvm(String name, String mainClass, List<String> jvmFlags, String... args) {
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", sparkHome.resolve("jars") + File.separator + "*", mainClass));
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return pb;
    }

    static Process start(String name, String mainClass, String... args) throws IOException {
        Process p = sparkJvm(name, mainClass, List.of(), args).start();
        started.add(p);
        return p;
    }

    static String log(String name) throws IOException {
        Path f = tmp.resolve(name + ".log");
        return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : "";
    }

    static void waitForLog(String name, String text) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < end) {
            if (log(name).contains(text)) return;
            Thread.sleep(250);
        }
        fail(name + " did not log '" + text + "' within 90 s:\n" + log(name));
    }

    /** spark-submit of {@code bin/moice ARGS --spark submit} to the cluster (the driver runs in this new JVM). */
    static Process submit(String name, String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of("--master", master, "--class", "moice.cli.Main",
                "--conf", "spark.executor.memory=768m", "--conf", "spark.ui.enabled=false",
                "--conf", "spark.driver.host=127.0.0.1", appJar.toString()));
        a.addAll(Arrays.asList(args));
        a.addAll(List.of("--spark", "submit"));
        Process p = sparkJvm(name, "org.apache.spark.deploy.SparkSubmit", List.of("--add-modules",
                "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Djava.awt.headless=true"),
                a.toArray(String[]::new)).start();
        started.add(p);
        return p;
    }

    static int await(Process p, String name) throws Exception {
        if (!p.waitFor(SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            fail(name + " did not finish within " + SECONDS + " s:\n" + log(name));
        }
        return p.exitValue();
    }

    static String[] evalArgs(Path out) {
        return new String[]{"eval", "--model", model.toString(), "--task", "passkey", "--lengths", "300,420",
                "--depths", "0,0.5,1", "--samples", "4", "--methods", "vanilla,mspoe", "--max-new-tokens", "4",
                "--seed", "3", "--out", out.toString()};
    }

    static ResultRow measured(ResultRow r) {
        return SparkEvalTest.measured(r);
    }

    @Test
    void evalCompletesWithAWorkerKilledMidJob() throws Exception {
        Path local = tmp.resolve("eval-local"), cluster = tmp.resolve("eval-cluster");
        CliTest.Run l = CliTest.run(evalArgs(local));
        assertEquals(0, l.code(), l.err());
        List<ResultRow> want = ResultsCsv.read(local.resolve("results.csv")).stream().map(StandaloneClusterTest::measured)
                .toList();
        assertEquals(48, want.size());

        Process driver = submit("eval-driver", evalArgs(cluster));
        Path csv = cluster.resolve("results.csv");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        int rowsAtKill = -1;
        while (System.nanoTime() < end && driver.isAlive()) {
            int n = Files.exists(csv) ? Math.max(0, Files.readAllLines(csv).size() - 1) : 0;
            if (n >= 4) {
                rowsAtKill = n;
                worker1.descendants().forEach(ProcessHandle::destroyForcibly); // its executor
                worker1.destroyForcibly();
                break;
            }
            Thread.sleep(100);
        }
        assertTrue(rowsAtKill > 0 && rowsAtKill < 48, "the worker was killed mid-job (rows then: " + rowsAtKill
                + ")\n" + log("eval-driver"));
        assertEquals(0, await(driver, "eval-driver"), log("eval-driver"));
        List<ResultRow> got = ResultsCsv.read(csv).stream().map(StandaloneClusterTest::measured).toList();
        assertEquals(want, got, "all rows, equal to the local run's, in its order");
        assertEquals(48, new HashSet<>(got).size(), "none twice");
    }

    @Test
    void trainingResumesAfterTheDriverIsKilled() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++)
            sb.append("{\"text\": \"Document ").append(i).append(": the quick brown fox jumps over the lazy dog ")
                    .append("and keeps running along the river bank until night falls.\"}\n");
        Path text = Files.writeString(tmp.resolve("text.jsonl"), sb.toString());
        Path local = tmp.resolve("local.safetensors"), cluster = tmp.resolve("cluster.safetensors");
        double lr = 1e-2;
        int steps = 3;
        String[] train = {"train-routers", "--model", model.toString(), "--data", text.toString(), "--base-ratios",
                "1,2,3", "--top-k", "2", "--batch", "4", "--max-len", "24", "--seed", "5", "--lr", String.valueOf(lr),
                "--steps", String.valueOf(steps)};
        List<String> localArgs = new ArrayList<>(Arrays.asList(train));
        localArgs.addAll(List.of("--out", local.toString()));
        CliTest.Run l = CliTest.run(localArgs.toArray(String[]::new));
        assertEquals(0, l.code(), l.err());

        List<String> clusterArgs = new ArrayList<>(Arrays.asList(train));
        clusterArgs.addAll(List.of("--out", cluster.toString()));
        Process driver = submit("train-driver", clusterArgs.toArray(String[]::new));
        Path state = Trainer.stateFileFor(cluster);
        Routers shape = Routers.random(new double[]{1e4, 2e4, 3e4}, 2, TinyChatModel.HEAD_DIM, 3, 0.02, 5);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        int stepAtKill = -1;
        while (System.nanoTime() < end && driver.isAlive()) {
            if (Files.exists(state)) {
                int step = TrainingState.read(state, shape).step();
                if (step >= 1) {
                    stepAtKill = step;
                    driver.descendants().forEach(ProcessHandle::destroyForcibly);
                    driver.destroyForcibly();
                    break;
                }
            }
            Thread.sleep(100);
        }
        assertTrue(stepAtKill >= 1 && stepAtKill < steps, "the driver was killed mid-run (at step " + stepAtKill
                + ")\n" + log("train-driver"));
        driver.waitFor(30, TimeUnit.SECONDS);
        clusterArgs.add("--resume");
        Process resumed = submit("train-resumed", clusterArgs.toArray(String[]::new));
        assertEquals(0, await(resumed, "train-resumed"), log("train-resumed"));

        TrainingState a = TrainingState.read(Trainer.stateFileFor(local), shape);
        TrainingState b = TrainingState.read(state, shape);
        assertEquals(steps, b.step());
        assertEquals(a.history().getFirst().loss(), b.history().getFirst().loss(), 0,
                "step 1 starts from the same routers: per-sequence losses summed in batch order");
        float[] wa = SparkTrainTest.flat(a.routers()), wb = SparkTrainTest.flat(b.routers());
        for (int i = 0; i < wa.length; i++)
            assertTrue(Math.abs(wa[i] - wb[i]) <= 2 * lr * steps, "weight " + i + ": " + wa[i] + " vs " + wb[i]);
    }
}
