package moice.spark;

import moice.api.EvalJob;
import moice.io.download.ModelCache;
import moice.load.LoadedModel;
import moice.train.ModelObjective;

import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * What an executor JVM keeps between tasks: each model loaded (memory-mapped) once, and idle per-task helpers (eval
 * jobs, training objectives with their transposed weights) for the next task. Tasks of one executor run on several
 * threads at once; each borrows a helper of its own, so a JVM holds as many as it runs tasks at a time.
 */
final class WorkerModels {
    private static final ConcurrentHashMap<String, LoadedModel> MODELS = new ConcurrentHashMap<>();
    private static final ConcurrentHashMap<Object, Queue<Object>> IDLE = new ConcurrentHashMap<>();

    private WorkerModels() {}

    /** The model named {@code model} (a path, or a name in this worker's $MOICE_HOME), loaded once per JVM. */
    static LoadedModel model(String model) {
        return MODELS.computeIfAbsent(model, m -> LoadedModel.open(ModelCache.resolve(m)));
    }

    /** Runs {@code use} with an idle eval job for {@code spec} (made when there is none), then keeps it for others. */
    static <R> R withEvalJob(EvalSpec spec, Function<EvalJob, R> use) {
        return with(spec, () -> EvalJob.onWorker(spec.options(), model(spec.model())), use);
    }

    /** The same with a training objective on {@code model}. */
    static <R> R withObjective(String model, Function<ModelObjective, R> use) {
        return with("objective:" + model, () -> new ModelObjective(model(model).model()), use);
    }

    @SuppressWarnings("unchecked")
    private static <T, R> R with(Object key, java.util.function.Supplier<T> make, Function<T, R> use) {
        Queue<Object> idle = IDLE.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>());
        Object got = idle.poll();
        T helper = got != null ? (T) got : make.get();
        try {
            return use.apply(helper);
        } finally {
            idle.add(helper);
        }
    }
}
