package moice.cli;

import moice.load.LoadedModel;
import moice.io.download.ModelCache;
import moice.io.TensorSource;
import moice.model.KVCache;
import moice.model.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice inspect}: a model's config, its tensors, and the memory it needs at a given context. Uses
 * {@link LoadedModel} below the API on purpose: the tensor table (names, storage types, shapes, file offsets) and the
 * KV-cache size are file and engine internals that the API does not expose.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Prints the config, the tensor table and a memory estimate for a context length.",
                "Example: bin/moice inspect --model DIR --context 8192"})
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    @Option(names = "--context", defaultValue = "0", description = "Context length for the memory estimate (default: the model's max_position_embeddings).")
    int context;

    @Option(names = "--tensors", negatable = true, defaultValue = "true", fallbackValue = "true", description = "Print the tensor table (default on).")
    boolean tensors;

    @Override
    public Integer call() {
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            ModelConfig c = m.config();
            System.out.println("model: " + m.path());
            System.out.println("architecture: " + c.architecture());
            System.out.printf(Locale.ROOT, "layers %d, hidden %d, intermediate %d, heads %d (kv %d, head_dim %d), vocab %d%n",
                    c.numLayers(), c.hiddenSize(), c.intermediateSize(), c.numHeads(), c.numKvHeads(), c.headDim(), c.vocabSize());
            System.out.printf(Locale.ROOT, "rope_theta %s, rope scaling %s, max positions %d, sliding window %s%n",
                    c.ropeTheta(), c.ropeScaling().type(), c.maxPositions(), c.slidingWindow() > 0 ? c.slidingWindow() : "none");
            System.out.printf(Locale.ROOT, "rms_norm_eps %s, qkv bias %s, o bias %s, mlp bias %s, tied embeddings %s%n",
                    c.rmsNormEps(), c.qkvBias(), c.oBias(), c.mlpBias(), c.tiedEmbeddings());
            System.out.printf(Locale.ROOT, "bos %d, eos %s%n", c.bosTokenId(), c.eosTokenIds());
            TensorSource src = m.tensors();
            long bytes = 0;
            for (String name : src.names()) {
                long n = Arrays.stream(src.shape(name)).reduce(1, (a, b) -> a * b);
                long b;
                try {
                    b = src.dtype(name).bytesFor(n);
                } catch (RuntimeException e) {
                    b = 0;
                }
                bytes += b;
                if (tensors)
                    System.out.printf(Locale.ROOT, "  %-60s %-5s %-16s %s%n", name, dtypeOf(src, name),
                            Arrays.toString(src.shape(name)), src.describe(name).replaceAll(".*/", ""));
            }
            System.out.printf(Locale.ROOT, "parameters: %,d (from config)%n", c.parameterCount());
            int ctx = context > 0 ? context : c.maxPositions();
            long kv = KVCache.bytesFor(c, ctx);
            long activations = 4L * Math.min(ctx, 512) * (3L * c.hiddenSize() + 2L * c.qDim() + 2L * c.kvDim() + 2L * c.intermediateSize());
            System.out.printf(Locale.ROOT, "memory at context %d: weights %.1f MiB (memory-mapped), KV cache %.1f MiB, activations ~%.1f MiB%n",
                    ctx, bytes / 1048576.0, kv / 1048576.0, activations / 1048576.0);
        }
        return 0;
    }

    private static String dtypeOf(TensorSource src, String name) {
        try {
            return src.dtype(name).toString();
        } catch (RuntimeException e) {
            return "?";
        }
    }
}
