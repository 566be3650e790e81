package moice.api;

import java.nio.file.Path;
import java.util.List;

/**
 * A long-context evaluation, as {@code bin/moice eval} takes it (see docs/cli.md): every method × length × depth ×
 * sample of a task, results appended to {@code out/results.csv} (a rerun with the same options resumes), then
 * {@code summary.md} and the plots. Immutable and thread-safe.
 *
 * @param model            model path or pulled name (recorded in run.json as given)
 * @param task             passkey, kv, synthetic-qa, niah (synthetic) or mdqa, leval-*, longbench (read from data)
 * @param data             the data file of data tasks; null for synthetic ones
 * @param lengths          prompt lengths in model tokens; null for data tasks = the model's context minus maxNewTokens
 * @param depths           synthetic answer depths in [0, 1]; null = 0, 0.25, 0.5, 0.75, 1 (data tasks: must be null)
 * @param samples          samples per length × depth (data tasks: the first N of the file)
 * @param methods          method specs (the {@link moice.method.MethodSpec} syntax; a spec's own commas are allowed)
 * @param seed             seed of the synthetic samples
 * @param maxNewTokens     most tokens generated per answer (greedy)
 * @param score            {@code generate} (greedy answers) or {@code loglik} (teacher-forced log-likelihood)
 * @param out              output folder
 * @param plain            no chat template (base models)
 * @param abBases          Attention Buckets bases for an {@code ab} without its own; null = default
 * @param mspoeMin         Ms-PoE smallest ratio for an {@code mspoe} without its own; null = default
 * @param mspoeMax         Ms-PoE largest ratio; null = default
 * @param mspoeGroupRatios Ms-PoE: every query head uses its KV head's ratio
 */
public record EvalOptions(String model, String task, Path data, List<Integer> lengths, List<Double> depths,
                          int samples, List<String> methods, long seed, int maxNewTokens, String score, Path out,
                          boolean plain, List<Double> abBases, Double mspoeMin, Double mspoeMax,
                          boolean mspoeGroupRatios) {
    /**
     * A synthetic-task evaluation with the command line's defaults: depths 0, 0.25, 0.5, 0.75, 1; 5 samples; seed 0;
     * 16 new tokens; scored by generation; chat template on.
     */
    public static EvalOptions synthetic(String model, String task, List<Integer> lengths, List<String> methods,
                                        Path out) {
        return new EvalOptions(model, task, null, lengths, null, 5, methods, 0, 16, "generate", out, false, null, null,
                null, false);
    }

    public EvalOptions withDepths(List<Double> d) {
        return new EvalOptions(model, task, data, lengths, d, samples, methods, seed, maxNewTokens, score, out, plain,
                abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
    }

    public EvalOptions withSamples(int n) {
        return new EvalOptions(model, task, data, lengths, depths, n, methods, seed, maxNewTokens, score, out, plain,
                abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
    }

    public EvalOptions withSeed(long s) {
        return new EvalOptions(model, task, data, lengths, depths, samples, methods, s, maxNewTokens, score, out, plain,
                abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
    }

    /** {@code generate} or {@code loglik}. */
    public EvalOptions withScore(String scoring) {
        return new EvalOptions(model, task, data, lengths, depths, samples, methods, seed, maxNewTokens, scoring, out,
                plain, abBases, mspoeMin, mspoeMax, mspoeGroupRatios);
    }
}
