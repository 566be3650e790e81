package moice.cli;

import moice.api.Engine;
import moice.api.Moice;
import moice.io.download.ModelCache;
import moice.server.Server;
import moice.server.ServerOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code bin/moice serve}: an OpenAI-compatible HTTP server ({@link Server}). Runs until SIGTERM or SIGINT, then stops
 * accepting connections, lets the requests in flight finish (at most {@code --drain-seconds}) and exits with 0.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serves a model over an OpenAI-compatible HTTP API: GET /health, GET /v1/models, "
                + "POST /v1/chat/completions, POST /v1/completions (stream: server-sent events). The attention method "
                + "per request: {\"moice\": {\"method\": NAME, \"routing\": true}}.",
                "Example: bin/moice serve --model smollm2-135m-instruct --method vanilla --moice r.safetensors --port 8080"})
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    @Option(names = "--method", paramLabel = "SPEC",
            description = "A method requests may choose (repeatable; the first is the default): vanilla, moice, "
                    + "moice:ROUTERS, equal[:R1,..], random[:SEED], ab[:B1,..], mspoe[:MIN,MAX[,group]]. Default: moice "
                    + "for a MoICE checkpoint, else vanilla.")
    List<String> methods = new ArrayList<>();

    @Option(names = "--moice", paramLabel = "ROUTERS",
            description = "Router file: adds the method moice:ROUTERS (repeatable; after the --method ones), named "
                    + "moice:STEM in requests (STEM: the file name without .safetensors).")
    List<Path> routers = new ArrayList<>();

    @Option(names = "--host", defaultValue = ServerOptions.DEFAULT_HOST,
            description = "Address to bind (default ${DEFAULT-VALUE}, loopback only; 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port; 0 = any free port (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--parallel", defaultValue = "1", description = "Generations that run at once (default ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--max-queue", defaultValue = "16",
            description = "Requests that may wait for a slot; more are refused with 429 (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--context", defaultValue = "0",
            description = "Most positions per request, prompt + max_tokens (default: the model's max_position_embeddings).")
    int context;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require 'Authorization: Bearer KEY' on every request but /health (also $MOICE_API_KEY).")
    String apiKey;

    @Option(names = "--max-body", paramLabel = "BYTES", defaultValue = "4194304",
            description = "Largest request body; larger is refused with 413 (default ${DEFAULT-VALUE}).")
    long maxBody;

    @Option(names = "--drain-seconds", defaultValue = "30",
            description = "On SIGTERM, how long requests in flight may take to finish (default ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Option(names = "--no-prefix-reuse",
            description = "Recompute every prompt in full, even the earlier turns of a conversation that an idle "
                    + "session still holds in its KV cache (default: reuse them; vanilla and MoICE-family methods).")
    boolean noPrefixReuse;

    @Option(names = "--no-batching",
            description = "Run each generation's decode steps alone (default: concurrent generations decode as one "
                    + "batch, one pass over the weights for all; the same answers as alone).")
    boolean noBatching;

    @Option(names = "--kv-memory", paramLabel = "SIZE",
            description = "KV cache memory for all sessions together, running and idle (kept for prefix reuse): "
                    + "BYTES or with k, m, g (e.g. 512m). A request that does not fit waits, after the idle caches "
                    + "least recently used are dropped; one that can never fit gets 400. Default: --parallel "
                    + "sequences of the whole context, of the loaded method whose cache is largest.")
    String kvMemory;

    @Option(names = "--kv-cache", defaultValue = "f32", paramLabel = "f32|f16",
            description = "KV cache precision of every session: f32 (exact, default) or f16 (half the memory, so "
                    + "--kv-memory holds about twice the positions; keys and values rounded to half precision).")
    String kvCache;

    @Option(names = "--prefill-chunk", paramLabel = "N", defaultValue = "" + ServerOptions.DEFAULT_PREFILL_CHUNK,
            description = "With batching: prefill prompts in chunks of N tokens between the other generations' decode "
                    + "steps, so a long prompt does not stall them (same greedy output; Ms-PoE: whole prompt at once). "
                    + "0 = whole prompt (default ${DEFAULT-VALUE}).")
    int prefillChunk;

    /** {@code 1234}, {@code 64k}, {@code 512m}, {@code 2g} (binary units) as bytes. */
    static long parseSize(String s, String flag) {
        String t = s.strip().toLowerCase(java.util.Locale.ROOT);
        if (t.endsWith("b") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) t = t.substring(0, t.length() - 1);
        long unit = 1;
        if (!t.isEmpty()) switch (t.charAt(t.length() - 1)) {
            case 'k' -> unit = 1L << 10;
            case 'm' -> unit = 1L << 20;
            case 'g' -> unit = 1L << 30;
            default -> { }
        }
        if (unit > 1) t = t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(t);
            if (!t.matches("[0-9]+(\\.[0-9]+)?") || v <= 0) throw new NumberFormatException();
            return Math.multiplyExact((long) Math.ceil(v * unit), 1L);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new moice.MoiceException(flag + ": '" + s + "' is not a size; expected bytes, or a number with k, m "
                    + "or g (e.g. 512m)");
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        List<String> specs = new ArrayList<>(methods);
        for (Path r : routers) specs.add("moice:" + r);
        String key = apiKey != null ? apiKey : System.getenv("MOICE_API_KEY");
        ServerOptions options;
        try {
            options = new ServerOptions(host, port, modelId(model), specs, parallel, maxQueue, context,
                    key == null || key.isEmpty() ? null : key, maxBody, drainSeconds, !noPrefixReuse,
                    !noBatching, kvMemory == null ? 0 : parseSize(kvMemory, "--kv-memory"), prefillChunk,
                    moice.model.KVCache.Precision.parse(kvCache, "--kv-cache"));
        } catch (IllegalArgumentException e) {
            throw new moice.MoiceException(e.getMessage());
        }
        Engine engine = Moice.load(ModelCache.resolve(model));
        Server server;
        try {
            server = Server.start(engine, options);
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
        CountDownLatch forever = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("moice serve: stopping; " + server.admittedRequests() + " request(s) in flight, waiting up to "
                    + drainSeconds + " s for them");
            boolean drained = server.stop();
            if (drained) engine.close(); // else generations still read the weights: leave them mapped
            System.err.println("moice serve: stopped" + (drained ? "" : " with generations still running"));
            System.err.flush();
            Runtime.getRuntime().halt(0); // a requested stop is a success, not the 143 of SIGTERM
        }, "moice-serve-shutdown"));
        System.err.println("moice serve: listening on " + server.url() + " (model " + options.modelId()
                + "; methods " + String.join(", ", server.methodNames()) + "; parallel " + parallel + ", queue "
                + maxQueue + "; KV memory " + String.format(java.util.Locale.ROOT, "%.1f MiB", server.kvMemory() / 1048576.0)
                + (noBatching ? "" : "; prefill chunk " + (prefillChunk == 0 ? "off" : prefillChunk))
                + (key != null && !key.isEmpty() ? "; API key required" : "") + ")");
        forever.await();
        return 0;
    }

    /** The id {@code /v1/models} reports: a packaged name as given, else the file or folder name (without .gguf). */
    static String modelId(String model) {
        Path p = Path.of(model);
        String name = p.getFileName() == null ? model : p.getFileName().toString();
        return name.endsWith(".gguf") ? name.substring(0, name.length() - 5) : name;
    }
}
