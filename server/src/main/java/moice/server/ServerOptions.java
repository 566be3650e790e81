package moice.server;

import moice.model.KVCache;

import java.util.List;

/**
 * How {@link Server} runs: what {@code bin/moice serve} takes as flags. Immutable.
 *
 * @param host      address to bind (default loopback: a server on every interface is a choice, not an accident)
 * @param port      TCP port; 0 = any free port ({@link Server#port()} tells which)
 * @param modelId   the id {@code /v1/models} reports and requests may name in {@code model}
 * @param methods   method specs loaded at start ({@code vanilla}, {@code moice:R.safetensors}, {@code equal}, ...);
 *                  requests pick one by name, the first is the default; empty: the engine's default method
 * @param parallel  generations that run at once
 * @param maxQueue  requests that may wait for a generation slot; one more is refused with 429
 * @param context   most positions per request (prompt + max_tokens); 0 = the model's max_position_embeddings
 * @param apiKey    when not null, every request but {@code /health} needs {@code Authorization: Bearer KEY}
 * @param maxBody   largest request body in bytes; larger is refused with 413
 * @param drainSeconds on {@link Server#stop()}, how long in-flight requests may take to finish
 * @param prefixReuse  a request whose prompt starts with tokens an idle session holds in its KV cache (the next turn of
 *                     a conversation) computes only the rest (vanilla and the MoICE family)
 * @param batching     concurrent generations run their decode steps as one batch (continuous batching; the same
 *                     answers as alone)
 * @param kvMemory     bytes of KV cache all sessions together may hold (running ones and idle ones kept for prefix
 *                     reuse); 0 = {@code parallel} full-context sequences of the loaded method whose cache is largest
 *                     (so by default no valid request ever waits for memory, only for a slot)
 * @param prefillChunk with batching: prompts are prefilled in chunks of at most this many tokens between the decode
 *                     batches of the other generations; 0 = each prompt in one piece on its request's thread
 * @param kvCache      every session's KV cache precision (f32 exact; f16 half the memory, so {@code kvMemory} holds
 *                     about twice the positions)
 */
public record ServerOptions(String host, int port, String modelId, List<String> methods, int parallel, int maxQueue,
                            int context, String apiKey, long maxBody, int drainSeconds,
                            boolean prefixReuse, boolean batching, long kvMemory, int prefillChunk,
                            KVCache.Precision kvCache) {
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080, DEFAULT_PARALLEL = 1, DEFAULT_MAX_QUEUE = 16, DEFAULT_DRAIN_SECONDS = 30;
    public static final long DEFAULT_MAX_BODY = 4L << 20;
    public static final int DEFAULT_PREFILL_CHUNK = 64;

    public ServerOptions {
        methods = List.copyOf(methods);
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        if (parallel < 1) throw new IllegalArgumentException("parallel must be at least 1, got " + parallel);
        if (maxQueue < 0) throw new IllegalArgumentException("max queue must be at least 0, got " + maxQueue);
        if (context < 0) throw new IllegalArgumentException("context must be at least 0, got " + context);
        if (maxBody < 1) throw new IllegalArgumentException("max body must be at least 1 byte, got " + maxBody);
        if (drainSeconds < 0) throw new IllegalArgumentException("drain seconds must be >= 0, got " + drainSeconds);
        if (apiKey != null && apiKey.isEmpty()) throw new IllegalArgumentException("the API key is empty");
        if (kvMemory < 0) throw new IllegalArgumentException("KV memory must be >= 0 bytes, got " + kvMemory);
        if (prefillChunk < 0) throw new IllegalArgumentException("prefill chunk must be >= 0 tokens, got " + prefillChunk);
        java.util.Objects.requireNonNull(kvCache, "kvCache");
    }

    /** With a float32 KV cache. */
    public ServerOptions(String host, int port, String modelId, List<String> methods, int parallel, int maxQueue,
                         int context, String apiKey, long maxBody, int drainSeconds, boolean prefixReuse,
                         boolean batching, long kvMemory, int prefillChunk) {
        this(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody, drainSeconds, prefixReuse,
                batching, kvMemory, prefillChunk, KVCache.Precision.F32);
    }

    /** The defaults on loopback, for a model called {@code modelId}, with {@code methods} (may be empty). */
    public static ServerOptions defaults(String modelId, List<String> methods) {
        return new ServerOptions(DEFAULT_HOST, DEFAULT_PORT, modelId, methods, DEFAULT_PARALLEL, DEFAULT_MAX_QUEUE, 0,
                null, DEFAULT_MAX_BODY, DEFAULT_DRAIN_SECONDS, true, true, 0, DEFAULT_PREFILL_CHUNK);
    }

    public ServerOptions withPort(int p) {
        return new ServerOptions(host, p, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                drainSeconds, prefixReuse, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withParallel(int n, int queue) {
        return new ServerOptions(host, port, modelId, methods, n, queue, context, apiKey, maxBody, drainSeconds,
                prefixReuse, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withApiKey(String key) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, key, maxBody,
                drainSeconds, prefixReuse, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withMaxBody(long bytes) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, bytes,
                drainSeconds, prefixReuse, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withContext(int positions) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, positions, apiKey, maxBody,
                drainSeconds, prefixReuse, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withDrainSeconds(int seconds) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                seconds, prefixReuse, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withPrefixReuse(boolean on) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                drainSeconds,
                on, batching, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withBatching(boolean on) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                drainSeconds, prefixReuse, on, kvMemory, prefillChunk, kvCache);
    }

    public ServerOptions withKvMemory(long bytes) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                drainSeconds, prefixReuse, batching, bytes, prefillChunk);
    }

    public ServerOptions withPrefillChunk(int tokens) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                drainSeconds, prefixReuse, batching, kvMemory, tokens, kvCache);
    }

    public ServerOptions withKvCache(KVCache.Precision precision) {
        return new ServerOptions(host, port, modelId, methods, parallel, maxQueue, context, apiKey, maxBody,
                drainSeconds, prefixReuse, batching, kvMemory, prefillChunk, precision);
    }
}
