package moice.spark;

import moice.api.EvalOptions;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@link EvalOptions} as executors receive it (paths as strings: {@code Path} is not serializable). */
record EvalSpec(String model, String task, String data, ArrayList<Integer> lengths, ArrayList<Double> depths,
                int samples, ArrayList<String> methods, long seed, int maxNewTokens, String score, String out,
                boolean plain, ArrayList<Double> abBases, Double mspoeMin, Double mspoeMax, boolean mspoeGroupRatios)
        implements Serializable {

    static EvalSpec of(EvalOptions o) {
        // a model or data path relative to the driver's folder means the same file on the workers
        String model = o.model();
        if (java.nio.file.Files.exists(Path.of(model))) model = Path.of(model).toAbsolutePath().normalize().toString();
        return new EvalSpec(model, o.task(), o.data() == null ? null : o.data().toAbsolutePath().normalize().toString(),
                copy(o.lengths()),
                copy(o.depths()), o.samples(), copy(o.methods()), o.seed(), o.maxNewTokens(), o.score(),
                o.out().toString(), o.plain(), copy(o.abBases()), o.mspoeMin(), o.mspoeMax(), o.mspoeGroupRatios());
    }

    EvalOptions options() {
        return new EvalOptions(model, task, data == null ? null : Path.of(data), lengths, depths, samples, methods, seed,
                maxNewTokens, score, Path.of(out), plain, abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
    }

    private static <T> ArrayList<T> copy(List<T> l) {
        return l == null ? null : new ArrayList<>(l);
    }
}
