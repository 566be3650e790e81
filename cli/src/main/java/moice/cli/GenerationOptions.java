package moice.cli;

import moice.model.Sampler;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** Sampling and stopping flags shared by {@code generate} and {@code chat}. */
final class GenerationOptions {
    @Option(names = "--max-tokens", defaultValue = "256", description = "Most tokens to generate (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "Sampling temperature; 0 is greedy (default ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens; 0 = all (default ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling mass in (0, 1] (default ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed for sampling (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", description = "Stop when this text appears (repeatable); it is not printed.")
    List<String> stop = new ArrayList<>();

    @Option(names = "--context", defaultValue = "0", description = "Context length in tokens (default: the model's max_position_embeddings).")
    int context;

    @Option(names = "--kv-cache", defaultValue = "f32", paramLabel = "f32|f16",
            description = "KV cache precision: f32 (exact, default) or f16 (half the memory, as llama.cpp's default; "
                    + "keys and values rounded to half precision).")
    String kvCache;

    /** The session options these flags ask for (the KV cache's precision). */
    moice.api.SessionOptions sessionOptions() {
        return moice.api.SessionOptions.DEFAULT.withKvCache(moice.model.KVCache.Precision.parse(kvCache, "--kv-cache"));
    }

    Sampler sampler() {
        return new Sampler(temperature, topK, topP, seed);
    }

    /** These flags as the API's options; flag errors are reported with the flags' names. */
    moice.api.GenerateOptions toApi() {
        sampler(); // checks --temperature, --top-k, --top-p
        if (maxTokens < 1) throw new moice.MoiceException("--max-tokens must be at least 1, got " + maxTokens);
        if (context < 0) throw new moice.MoiceException("--context must be at least 0, got " + context);
        return new moice.api.GenerateOptions(maxTokens, temperature, topK, topP, seed, stop, context);
    }
}
