package moice.spark;

import moice.MoiceException;
import moice.api.Cluster;
import moice.api.Moice;
import moice.api.TrainOptions;
import moice.attention.Routers;
import moice.train.RouterGradients;
import moice.train.RouterObjective;
import moice.train.TokenSequence;
import moice.train.Trainer;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;

import java.io.PrintStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code train-routers --spark}: the driver keeps everything of a local run (data, order, AdamW, the atomic
 * checkpoints after every step, {@code --resume}); only each step's batch gradient is computed on the cluster. The
 * routers are broadcast, the step's sequences parallelized, each executor evaluates its sequences with the existing
 * forward and backward pass ({@link moice.train.ModelObjective}, one per concurrent task, on the JVM's copy of the
 * model), and {@code treeAggregate} sums the per-sequence float gradients in double — as the local trainer does, in
 * another order — and carries each sequence's loss back by its place in the batch.
 */
final class SparkGradients implements Trainer.StepGradients, AutoCloseable {
    private final Cluster.Options cluster;
    private final String model;
    private JavaSparkContext sc;

    private SparkGradients(Cluster.Options cluster, String model) {
        this.cluster = cluster;
        this.model = model;
    }

    static Trainer.Result train(TrainOptions options, Cluster.Options cluster, PrintStream progress) {
        String model = options.model();
        if (model != null && Files.exists(Path.of(model))) model = Path.of(model).toAbsolutePath().normalize().toString();
        try (SparkGradients gradients = new SparkGradients(cluster, model)) {
            return Moice.trainRouters(options, progress, gradients);
        }
    }

    @Override
    public Trainer.Step compute(int step, List<TokenSequence> batch, Routers routers, double auxCoef, float scale,
                                Trainer.SequenceListener listener) {
        if (sc == null) sc = Contexts.open(cluster, "moice train-routers"); // after the options were checked
        List<Sequence> sequences = new ArrayList<>();
        for (int j = 0; j < batch.size(); j++)
            sequences.add(new Sequence(j, batch.get(j).tokens(), batch.get(j).targets()));
        int size = RouterGradients.zerosLike(routers).size();
        Broadcast<Weights> weights = sc.broadcast(Weights.of(routers));
        Partial sum;
        try {
            sum = sc.parallelize(sequences, Math.min(batch.size(), sc.defaultParallelism()))
                    .treeAggregate(new Partial(size, batch.size()), new AddSequence(weights, model, auxCoef, scale),
                            new Merge(), 2);
        } finally {
            weights.destroy();
        }
        if (sum.error != null) throw new MoiceException("train-routers --spark, step " + step + ": " + sum.error);
        RouterGradients gradient = RouterGradients.zerosLike(routers);
        gradient.setFrom(sum.gradient);
        List<RouterObjective.Loss> losses = new ArrayList<>();
        for (int j = 0; j < batch.size(); j++) {
            if (!sum.done[j]) throw new IllegalStateException("sequence " + j + " of step " + step + " was not evaluated");
            losses.add(new RouterObjective.Loss(sum.total[j], sum.ce[j], sum.aux[j], sum.count[j]));
            listener.finished(j, batch.get(j), losses.get(j));
        }
        return new Trainer.Step(gradient, losses);
    }

    @Override
    public void close() {
        if (sc != null) sc.close();
    }

    /** One sequence of the step's batch, at place {@code j}. */
    record Sequence(int j, int[] tokens, boolean[] targets) implements Serializable {}

    /** Router weights as they travel (the {@link Routers} record is not serializable). */
    record Weights(double[] bases, int topK, int headDim, float[][] gate1, float[][] gate2, float[][] gate3)
            implements Serializable {
        static Weights of(Routers r) {
            return new Weights(r.bases(), r.topK(), r.headDim(), r.gate1(), r.gate2(), r.gate3());
        }

        Routers routers() {
            return new Routers(bases, topK, headDim, gate1, gate2, gate3);
        }
    }

    /**
     * A partial sum over some sequences: the gradient (double, flat order of {@link RouterGradients#addTo}) and
     * each evaluated sequence's loss at its place (places of other partials stay 0, so merging adds exact zeros).
     */
    static final class Partial implements Serializable {
        final double[] gradient;
        final double[] total, ce, aux;
        final int[] count;
        final boolean[] done;
        String error;

        Partial(int size, int batch) {
            gradient = new double[size];
            total = new double[batch];
            ce = new double[batch];
            aux = new double[batch];
            count = new int[batch];
            done = new boolean[batch];
        }
    }

    /** seqOp: evaluates one sequence on this executor and adds its gradient. */
    static final class AddSequence implements Function2<Partial, Sequence, Partial> {
        private final Broadcast<Weights> weights;
        private final String model;
        private final double auxCoef;
        private final float scale;

        AddSequence(Broadcast<Weights> weights, String model, double auxCoef, float scale) {
            this.weights = weights;
            this.model = model;
            this.auxCoef = auxCoef;
            this.scale = scale;
        }

        @Override
        public Partial call(Partial p, Sequence s) {
            if (p.error != null) return p;
            Routers routers = weights.value().routers();
            try {
                RouterGradients one = RouterGradients.zerosLike(routers);
                RouterObjective.Loss l = WorkerModels.withObjective(model,
                        objective -> objective.evaluate(s.tokens(), s.targets(), routers, auxCoef, one, scale));
                one.addTo(p.gradient);
                p.total[s.j()] = l.total();
                p.ce[s.j()] = l.ce();
                p.aux[s.j()] = l.aux();
                p.count[s.j()] = l.targetCount();
                p.done[s.j()] = true;
            } catch (MoiceException | IllegalArgumentException e) {
                // bad input fails the same way on every retry: report it instead of failing the task
                p.error = "sequence " + (s.j() + 1) + " of the batch: " + e.getMessage();
            }
            return p;
        }
    }

    /** combOp: adds two partial sums. */
    static final class Merge implements Function2<Partial, Partial, Partial> {
        @Override
        public Partial call(Partial a, Partial b) {
            if (a.error == null) a.error = b.error;
            for (int i = 0; i < a.gradient.length; i++) a.gradient[i] += b.gradient[i];
            for (int j = 0; j < a.total.length; j++) {
                if (!b.done[j]) continue;
                a.total[j] = b.total[j];
                a.ce[j] = b.ce[j];
                a.aux[j] = b.aux[j];
                a.count[j] = b.count[j];
                a.done[j] = true;
            }
            return a;
        }
    }
}
