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
 */
public record PerplexityOptions(String model, Path data, int context, Integer stride, int buckets, int maxWindows,
                                int block, List<String> methods, List<Double> abBases, Double mspoeMin,
                                Double mspoeMax, boolean mspoeGroupRatios, Path out) {
    /** Disjoint windows, 8 buckets, every window, blocks of 512 tokens. */
    public static PerplexityOptions of(String model, Path data, int context, List<String> methods, Path out) {
        return new PerplexityOptions(model, data, context, null, 8, Integer.MAX_VALUE, 512, methods, null, null, null,
                false, out);
    }
}
