package moice.api;

import java.nio.file.Path;
import java.util.List;

/**
 * A perplexity-by-position run, as {@code bin/moice perplexity} takes it (see docs/cli.md): the token stream of
 * {@code data} cut into windows of {@code context} tokens, every method reading every window from an empty cache,
 * next-token NLL per window and position bucket, reports in {@code out}. Immutable and thread-safe.
 *
 * @param model            model path or pulled name
 * @param data             plain text (one document), or JSON Lines / a JSON array of records as training reads them
 * @param context          tokens per window (at least 2, at most the model's context)
 * @param stride           tokens between window starts; null = {@code context} (disjoint windows)
 * @param buckets          equal position ranges reported separately
 * @param maxWindows       use only the first N windows
 * @param block            tokens fed per forward call
 * @param methods          method specs (the {@link moice.method.MethodSpec} syntax)
 * @param abBases          Attention Buckets bases for an {@code ab} without its own; null = default
 * @param mspoeMin         Ms-PoE smallest ratio for an {@code mspoe} without its own; null = default
 * @param mspoeMax         Ms-PoE largest ratio; null = default
 * @param mspoeGroupRatios Ms-PoE: every query head uses its KV head's ratio
 * @param out              output folder
 * @param scoreFrom        first predicted token (index in the window, 1..C−1) counted in a window's mean NLL; null =
 *                         1 (every predicted token), or {@code C/2+1} with {@code llamaCompat}
 * @param llamaCompat      score as llama.cpp's {@code llama-perplexity} does: disjoint windows, the first token of
 *                         every window replaced by BOS when the model's tokenizer adds BOS, and only the second half
 *                         of each window ({@code C/2+1..C−1}) counted; with plain-text data the token stream is the
 *                         one {@code llama-perplexity -f} reads, so the overall perplexity is the same number
 * @param kvCache          KV cache precision of every method's sessions (float32: exact; float16: what llama.cpp's
 *                         default cache stores, for measuring what half precision costs)
 */
public record PerplexityOptions(String model, Path data, int context, Integer stride, int buckets, int maxWindows,
                                int block, List<String> methods, List<Double> abBases, Double mspoeMin,
                                Double mspoeMax, boolean mspoeGroupRatios, Path out, Integer scoreFrom,
                                boolean llamaCompat, moice.model.KVCache.Precision kvCache) {
    public PerplexityOptions {
        java.util.Objects.requireNonNull(kvCache, "kvCache");
    }

    /** A float32 KV cache. */
    public PerplexityOptions(String model, Path data, int context, Integer stride, int buckets, int maxWindows,
                             int block, List<String> methods, List<Double> abBases, Double mspoeMin, Double mspoeMax,
                             boolean mspoeGroupRatios, Path out, Integer scoreFrom, boolean llamaCompat) {
        this(model, data, context, stride, buckets, maxWindows, block, methods, abBases, mspoeMin, mspoeMax,
                mspoeGroupRatios, out, scoreFrom, llamaCompat, moice.model.KVCache.Precision.F32);
    }

    /** Every predicted token counted, windows as they are (moice's own scoring). */
    public PerplexityOptions(String model, Path data, int context, Integer stride, int buckets, int maxWindows,
                             int block, List<String> methods, List<Double> abBases, Double mspoeMin, Double mspoeMax,
                             boolean mspoeGroupRatios, Path out) {
        this(model, data, context, stride, buckets, maxWindows, block, methods, abBases, mspoeMin, mspoeMax,
                mspoeGroupRatios, out, null, false);
    }

    /** Disjoint windows, 8 buckets, every window, blocks of 512 tokens. */
    public static PerplexityOptions of(String model, Path data, int context, List<String> methods, Path out) {
        return new PerplexityOptions(model, data, context, null, 8, Integer.MAX_VALUE, 512, methods, null, null, null,
                false, out);
    }

    /** The same options scored as llama.cpp's {@code llama-perplexity} scores (see {@code llamaCompat}). */
    public PerplexityOptions withLlamaCompat() {
        return new PerplexityOptions(model, data, context, stride, buckets, maxWindows, block, methods, abBases,
                mspoeMin, mspoeMax, mspoeGroupRatios, out, scoreFrom, true, kvCache);
    }
}
