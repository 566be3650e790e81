package moice.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import moice.MoiceException;
import moice.api.ChatMessage;
import moice.api.Completion;
import moice.api.Engine;
import moice.api.GenerateOptions;
import moice.api.RoutingCounts;
import moice.api.RoutingTrace;
import moice.api.Session;
import moice.api.SessionOptions;
import moice.io.Json;
import moice.method.Method;
import moice.method.MethodSpec;
import moice.model.KVCache;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * An OpenAI-compatible HTTP server on one loaded {@link Engine}: {@code GET /health}, {@code GET /v1/models},
 * {@code POST /v1/chat/completions} and {@code POST /v1/completions}, streaming as server-sent events, with the
 * attention method chosen per request through the extension field {@code "moice": {"method", "routing"}}.
 *
 * <p><b>Why the JDK's own {@link HttpServer}.</b> It needs no dependency, and it is enough here: every exchange runs
 * on a virtual thread ({@link Executors#newVirtualThreadPerTaskExecutor}), so a generation that blocks for seconds
 * holds no platform thread; server-sent events are nothing but a chunked response ({@code sendResponseHeaders(200,
 * 0)}) to which we write {@code data: ...\n\n} and flush after every piece, and a client that has gone away shows up
 * as an {@link IOException} on that write, which stops the generation. What it lacks (HTTP/2, TLS without a
 * certificate store, request routing) this API does not need; put a reverse proxy in front for TLS.
 *
 * <p><b>Admission.</b> {@code parallel} generations run at once (each in its own {@link Session}; sessions of any
 * methods run concurrently on one engine and give the same result as alone); up to {@code maxQueue} more requests wait
 * for a slot, and one beyond that is refused at once with 429 and {@code Retry-After}. Requests are checked (JSON,
 * fields, method, context) before they queue, so a bad request never waits.
 *
 * <p><b>KV memory.</b> All sessions' KV caches count against one byte cap ({@link ServerOptions#kvMemory()}): a
 * request holding a slot reserves prompt + max_tokens positions of its method's cache before it runs, idle caches kept
 * for prefix reuse are dropped least recently used first to make room, and a request that still finds none waits
 * (in arrival order, still counted in the queue); one that could never fit is refused with 400 before it queues.
 *
 * <p>Thread-safe. {@link #stop()} stops accepting connections and waits (bounded) for in-flight requests.
 */
public final class Server implements AutoCloseable {
    /**
     * A method loaded at start: its name in requests, the spec it came from, the method, and the KV cache bytes one
     * position of a sequence takes with it ({@link Session#kvBytesPerPosition()}).
     */
    record Loaded(String name, MethodSpec spec, Method method, long kvBytesPerPosition) {}

    /** Seconds a client may take to send a request (line, headers and body), unless the JVM was told otherwise. */
    static final long MAX_REQUEST_SECONDS = 60;

    static {
        // The JDK's server waits forever for a request to arrive; a client trickling bytes would hold its connection
        // for good. Read once, when the JDK's server is first used in this JVM (so: before the first Server starts).
        // Not sun.net.httpserver.maxRspTime: that would cut long generations.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null)
            System.setProperty("sun.net.httpserver.maxReqTime", Long.toString(MAX_REQUEST_SECONDS));
    }

    private final Engine engine;
    private final ServerOptions options;
    private final List<Loaded> methods;
    private final int context;
    private final HttpServer http;
    private final ExecutorService executor;
    private final Semaphore slots;
    private final AtomicInteger admitted = new AtomicInteger(), active = new AtomicInteger();
    private final AtomicLong cancelled = new AtomicLong(), ids = new AtomicLong();
    /**
     * The KV pool. Every session's cache bytes count against {@link #kvCap}: a running generation's reservation
     * (enough for its prompt + max_tokens, or what its cache already holds, if more), and an idle session's cache (its
     * last sequence, kept for prefix reuse) until it is taken again or evicted, least recently used first, to make
     * room. Requests that find no room wait in arrival order ({@link #memoryQueue}: only the first may reserve, so a
     * large request is not overtaken forever by small ones). All of it is guarded by this lock.
     */
    private final Object memory = new Object();
    private final long kvCap;
    private long kvUsed, evictions;
    /** Idle sessions per method (and routing); their KV caches are the prefix cache. */
    private final Map<String, Deque<Session>> idle = new java.util.HashMap<>();
    /** Each idle session's charge against the cap, least recently used first; and its key in {@link #idle}. */
    private final LinkedHashMap<Session, Long> idleCharge = new LinkedHashMap<>();
    private final Map<Session, String> idleKey = new java.util.HashMap<>();
    private final Deque<Object> memoryQueue = new ArrayDeque<>();
    private final long created = System.currentTimeMillis() / 1000;
    private final byte[] apiKey;
    private volatile boolean stopped;

    /** {@link ServerOptions#prefixReuse()}. */
    private final boolean prefixReuse;
    /** Test hook: runs on the request's thread once it holds a generation slot, before generating. */
    volatile Runnable beforeGeneration = () -> { };
    /** Test hook: sees every piece of streamed text before it is written. */
    volatile Consumer<String> beforePiece = s -> { };
    /** How often a streamed request that has not produced text yet writes a comment line to find a gone client. */
    volatile long heartbeatMillis = 500;

    private Server(Engine engine, ServerOptions options) throws IOException {
        this.engine = engine;
        this.options = options;
        this.prefixReuse = options.prefixReuse();
        this.methods = load(engine, options.methods(), options.kvCache());
        this.context = options.context() > 0 ? options.context() : engine.config().maxPositions();
        long largest = methods.stream().mapToLong(Loaded::kvBytesPerPosition).max().orElseThrow();
        this.kvCap = options.kvMemory() > 0 ? options.kvMemory()
                : Math.multiplyExact(Math.multiplyExact((long) options.parallel(), context), largest);
        this.apiKey = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
        this.slots = new Semaphore(options.parallel(), true);
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 64);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /**
     * Binds and starts serving {@code engine} (which the caller still owns and closes after {@link #stop()}). Resolves
     * every method of {@code options.methods()} first (reading router files), so a bad spec fails here.
     *
     * @throws MoiceException a bad method spec or router file, or the address cannot be bound
     */
    public static Server start(Engine engine, ServerOptions options) {
        Server s;
        try {
            s = new Server(engine, options);
        } catch (IOException e) {
            throw new MoiceException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage(), e);
        }
        s.http.start();
        return s;
    }

    private static List<Loaded> load(Engine engine, List<String> specs, KVCache.Precision kvCache) {
        List<Loaded> out = new ArrayList<>();
        SessionOptions probe = SessionOptions.DEFAULT.withKvCache(kvCache); // for the bytes per position only
        if (specs.isEmpty()) {
            Method m = engine.defaultMethod();
            String spec = m instanceof Method.Moice ? "moice" : "vanilla";
            out.add(new Loaded(spec, MethodSpec.parse(spec, "--method"), m,
                    engine.session(m, probe).kvBytesPerPosition()));
            return out;
        }
        for (String s : specs) {
            MethodSpec spec = MethodSpec.parse(s, "--method");
            Method m = spec.resolve(engine.config(), engine.model().builtInRouters(), "--method");
            String name = spec.label();
            if (spec.kind() == MethodSpec.Kind.MOICE && spec.routers() != null) name = "moice:" + stem(spec.routers());
            for (Loaded l : out)
                if (l.name().equals(name))
                    throw new MoiceException("--method: two methods are named '" + name + "' (" + l.spec().label()
                            + " and " + spec.label() + ")");
            out.add(new Loaded(name, spec, m, engine.session(m, probe).kvBytesPerPosition()));
        }
        return out;
    }

    private static String stem(java.nio.file.Path routers) {
        String f = routers.getFileName().toString();
        return f.endsWith(".safetensors") ? f.substring(0, f.length() - ".safetensors".length()) : f;
    }

    /** The port it listens on (the one chosen when {@code port} was 0). */
    public int port() { return http.getAddress().getPort(); }

    /** {@code http://HOST:PORT}. */
    public String url() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + host + ":" + port();
    }

    /** The method names requests may give in {@code moice.method}, the default first. */
    public List<String> methodNames() { return methods.stream().map(Loaded::name).toList(); }

    /** Generations running now. */
    public int activeGenerations() { return active.get(); }

    /** Requests admitted and not finished (running or waiting for a slot). */
    public int admittedRequests() { return admitted.get(); }

    /** The KV memory cap in bytes ({@code --kv-memory}, or its default). */
    public long kvMemory() { return kvCap; }

    /** KV cache bytes counted against the cap now: running generations' reservations and idle sessions' caches. */
    public long kvBytesInUse() {
        synchronized (memory) {
            return kvUsed;
        }
    }

    /** KV cache bytes that idle sessions hold now (kept for prefix reuse; evicted first when room is needed). */
    public long idleKvBytes() {
        synchronized (memory) {
            long b = 0;
            for (long c : idleCharge.values()) b += c;
            return b;
        }
    }

    /** Requests holding a generation slot that wait for KV memory. */
    public int waitingForMemory() {
        synchronized (memory) {
            return memoryQueue.size();
        }
    }

    /** Idle sessions whose caches were dropped to make room (or beyond the idle limit) so far. */
    public long kvEvictions() {
        synchronized (memory) {
            return evictions;
        }
    }

    /** Streaming generations stopped because the client went away. */
    public long cancelledGenerations() { return cancelled.get(); }

    /**
     * Stops accepting connections and waits up to {@code drainSeconds} for the requests in flight to finish. Returns
     * true when none is left running (the engine may then be closed).
     */
    public boolean stop() {
        if (stopped) return active.get() == 0;
        stopped = true;
        http.stop(options.drainSeconds());
        executor.shutdown();
        try {
            executor.awaitTermination(Math.max(1, options.drainSeconds()), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return active.get() == 0;
    }

    @Override
    public void close() {
        stop();
    }

    // ---- dispatch ----

    private void handle(HttpExchange ex) {
        try (ex) {
            try {
                route(ex);
            } catch (ApiError e) {
                sendError(ex, e);
            } catch (ClientGone e) {
                // nothing to answer
            } catch (RuntimeException | Error e) {
                System.err.println("moice serve: " + ex.getRequestMethod() + " " + ex.getRequestURI() + ": " + e);
                sendError(ex, new ApiError(500, "server_error", "internal_error", null,
                        "internal error: " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage())));
            }
        }
    }

    private void route(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        String verb = ex.getRequestMethod();
        Page page = PAGES.get(path);
        if (page != null) {
            allow(ex, verb, "GET");
            sendPage(ex, page);
            return;
        }
        switch (path) {
            case "/health" -> {
                allow(ex, verb, "GET");
                sendJson(ex, 200, Map.of("status", "ok"));
            }
            case "/v1/models" -> {
                allow(ex, verb, "GET");
                authorize(ex);
                sendJson(ex, 200, Map.of("object", "list", "data", List.of(modelObject())));
            }
            case "/v1/chat/completions", "/v1/completions" -> {
                allow(ex, verb, "POST");
                authorize(ex);
                Object json = parseBody(ex);
                complete(ex, Request.parse(json, path.equals("/v1/chat/completions")));
            }
            default -> throw new ApiError(404, "invalid_request_error", "not_found", null,
                    "no such endpoint: " + path + " (there are /, /health, /v1/models, /v1/chat/completions, /v1/completions)");
        }
    }

    private static void allow(HttpExchange ex, String verb, String allowed) {
        if (!verb.equals(allowed)) {
            ex.getResponseHeaders().set("Allow", allowed);
            throw new ApiError(405, "invalid_request_error", "method_not_allowed", null,
                    verb + " is not allowed on " + ex.getRequestURI().getPath() + "; use " + allowed);
        }
    }

    private void authorize(HttpExchange ex) {
        if (apiKey == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        byte[] given = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)
                ? h.substring(7).strip().getBytes(StandardCharsets.UTF_8) : null;
        if (given == null || !MessageDigest.isEqual(given, apiKey)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiError(401, "invalid_request_error", "invalid_api_key", null, given == null
                    ? "missing API key: send the header 'Authorization: Bearer KEY'" : "incorrect API key");
        }
    }

    private Object parseBody(HttpExchange ex) {
        long max = options.maxBody();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                throw ApiError.invalid(null, "invalid_request", "bad Content-Length: " + length);
            }
            if (n > max) throw tooLarge(n);
        }
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        } catch (IOException e) {
            // a bad chunk header, or the client went away: answer 400 (which fails harmlessly when nobody listens)
            throw ApiError.invalid(null, "invalid_request", "the request body cannot be read: " + e.getMessage());
        } catch (RuntimeException e) {
            // the JDK's chunked decoder throws IndexOutOfBoundsException on a chunk size past 2^31 (found by
            // ServeSoakTest): a malformed request, not a server error
            throw ApiError.invalid(null, "invalid_request", "the request body cannot be read: malformed chunked "
                    + "transfer encoding (" + e.getClass().getSimpleName() + ")");
        }
        if (body.length > max) throw tooLarge(-1);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body)).toString();
        } catch (CharacterCodingException e) {
            throw ApiError.invalid(null, "invalid_json", "the request body is not valid UTF-8");
        }
        try {
            return Json.parse(text, "request body");
        } catch (MoiceException e) {
            throw ApiError.invalid(null, "invalid_json", e.getMessage());
        }
    }

    private ApiError tooLarge(long n) {
        return new ApiError(413, "invalid_request_error", "request_too_large", null, "the request body"
                + (n >= 0 ? " has " + n + " bytes," : " is") + " over the limit of " + options.maxBody() + " bytes (--max-body)");
    }

    private Map<String, Object> modelObject() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", options.modelId());
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "moice");
        List<String> routing = methods.stream()
                .filter(l -> l.method().routes()).map(Loaded::name).toList();
        Map<String, Object> perPosition = new LinkedHashMap<>();
        for (Loaded l : methods) perPosition.put(l.name(), l.kvBytesPerPosition());
        m.put("moice", Map.of("methods", methodNames(), "default_method", methods.get(0).name(),
                "routing_methods", routing, "context", context, "kv_memory_bytes", kvCap,
                "kv_bytes_per_position", perPosition));
        return m;
    }

    // ---- the web page ----

    /** A static file of the web page: its bytes (read once, from this module's resources) and content type. */
    record Page(byte[] bytes, String contentType) {}

    /**
     * The web page at {@code /}: a fixed set of files, so that no path a client sends can name any other resource.
     * Plain HTML, CSS and JavaScript with no build step and nothing loaded from elsewhere.
     */
    static final Map<String, Page> PAGES = Map.of(
            "/", page("index.html", "text/html; charset=utf-8"),
            "/index.html", page("index.html", "text/html; charset=utf-8"),
            "/app.js", page("app.js", "text/javascript; charset=utf-8"),
            "/style.css", page("style.css", "text/css; charset=utf-8"));

    private static Page page(String name, String type) {
        try (InputStream in = Server.class.getResourceAsStream("web/" + name)) {
            if (in == null) throw new IllegalStateException("moice-server resource web/" + name + " is missing");
            return new Page(in.readAllBytes(), type);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sendPage(HttpExchange ex, Page page) {
        ex.getResponseHeaders().set("Content-Type", page.contentType());
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        // the page talks to this server only: no other origin may frame it or feed it scripts
        ex.getResponseHeaders().set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
        ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        try {
            ex.sendResponseHeaders(200, page.bytes().length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(page.bytes());
            }
        } catch (IOException e) {
            throw new ClientGone(e);
        }
    }

    // ---- completions ----

    /** The loaded method a request names: its exact name or spec, or the first loaded one of a bare kind name. */
    Loaded method(String requested) {
        if (requested == null) return methods.get(0);
        String r = requested.strip();
        for (Loaded l : methods) if (l.name().equalsIgnoreCase(r) || l.spec().label().equalsIgnoreCase(r)) return l;
        for (Loaded l : methods) if (l.spec().kind().specName().equalsIgnoreCase(r)) return l;
        throw ApiError.invalid("moice.method", "unknown_method", "moice.method: '" + requested
                + "' is not loaded; this server runs " + String.join(", ", methodNames())
                + " (bin/moice serve --method SPEC, repeatable)");
    }

    private void complete(HttpExchange ex, Request req) {
        if (req.model() != null && !req.model().equals(options.modelId()))
            throw new ApiError(404, "invalid_request_error", "model_not_found", "model",
                    "the model '" + req.model() + "' does not exist; this server runs '" + options.modelId() + "'");
        Loaded loaded = method(req.method());
        if (req.routing() && !loaded.method().routes())
            throw ApiError.invalid("moice.routing", "routing_unavailable", "moice.routing needs a MoICE-family method "
                    + "(moice, equal, random); '" + loaded.name() + "' has no routers");
        int[] prompt = promptTokens(req);
        if (prompt.length == 0) throw ApiError.invalid(req.chat() ? "messages" : "prompt", "invalid_value", "the prompt is empty (no tokens)");
        int maxTokens = req.maxTokens() > 0 ? req.maxTokens() : context - prompt.length;
        String lengthParam = req.maxTokens() > 0 ? "max_tokens" : (req.chat() ? "messages" : "prompt");
        if (prompt.length >= context || (long) prompt.length + maxTokens > context)
            throw ApiError.invalid(lengthParam, "context_length_exceeded", "the prompt has " + prompt.length
                    + " tokens" + (req.maxTokens() > 0 ? " and max_tokens is " + maxTokens : "") + "; the context is "
                    + context + " tokens");
        long need = Math.multiplyExact(loaded.kvBytesPerPosition(), (long) prompt.length + maxTokens);
        if (need > kvCap)
            throw ApiError.invalid(lengthParam, "kv_memory_exceeded", "the prompt has " + prompt.length
                    + " tokens and max_tokens is " + maxTokens + ": " + ((long) prompt.length + maxTokens)
                    + " positions of " + loaded.name() + " need " + mib(need) + " of KV cache ("
                    + loaded.kvBytesPerPosition() + " bytes per position), more than the server's KV memory of "
                    + mib(kvCap) + " (--kv-memory); send a shorter prompt or a smaller max_tokens");
        GenerateOptions generation;
        try {
            generation = new GenerateOptions(maxTokens, req.temperature(), req.topK(), req.topP(), req.seed(),
                    req.stop(), context);
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid(null, "invalid_value", e.getMessage());
        }
        int n = admitted.incrementAndGet();
        try {
            if (n > options.parallel() + options.maxQueue()) {
                ex.getResponseHeaders().set("Retry-After", "1");
                throw new ApiError(429, "rate_limit_error", "queue_full", null, "the server is busy: "
                        + options.parallel() + " requests running and " + options.maxQueue()
                        + " waiting (--parallel, --max-queue); retry later");
            }
            try {
                slots.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiError(503, "server_error", "shutting_down", null, "the server is stopping");
            }
            try {
                generate(ex, req, loaded, prompt, generation, need);
            } finally {
                slots.release();
            }
        } finally {
            admitted.decrementAndGet();
        }
    }

    private int[] promptTokens(Request req) {
        try {
            if (req.chat()) return engine.chatTokens(req.messages());
            if (req.promptIds() != null) {
                int vocab = engine.config().vocabSize();
                for (int id : req.promptIds())
                    if (id >= vocab) throw ApiError.invalid("prompt", "invalid_value", "token id " + id
                            + " is outside the vocabulary (" + vocab + ")");
                return req.promptIds();
            }
            return engine.tokenize(req.prompt());
        } catch (MoiceException e) { // the chat template refused the conversation (raise_exception), ...
            throw ApiError.invalid(req.chat() ? "messages" : "prompt", "invalid_value", e.getMessage());
        }
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.2f MiB", bytes / 1048576.0);
    }

    /** A session taken for a generation and the KV bytes reserved for it. */
    private record Reservation(Session session, long bytes) {}

    /**
     * Waits (in arrival order) until {@code need} bytes of KV cache fit under the cap, evicting idle caches least
     * recently used first, and returns the session to run in (an idle one holding a prefix of {@code prompt}, else a
     * new one) with what was reserved: {@code max(need, what its cache holds already)}.
     */
    private Reservation reserve(String key, Loaded loaded, Request req, int[] prompt, long need) {
        Object ticket = new Object();
        synchronized (memory) {
            memoryQueue.addLast(ticket);
            try {
                Session session = null;
                long held = 0;
                boolean taken = false;
                while (true) {
                    if (memoryQueue.peekFirst() == ticket) {
                        if (!taken) { // its cache stays counted: it becomes part of this reservation
                            session = take(key, prompt);
                            if (session != null) held = idleCharge.remove(session);
                            if (session != null) idleKey.remove(session);
                            taken = true;
                        }
                        long total = Math.max(need, session == null ? 0 : Math.max(held, session.cacheBytes()));
                        while (kvUsed - held + total > kvCap && !idleCharge.isEmpty()) evictLeastRecentlyUsed();
                        if (kvUsed - held + total <= kvCap) {
                            kvUsed += total - held;
                            if (session == null) {
                                SessionOptions o = req.routing() ? SessionOptions.recordingRouting() : SessionOptions.DEFAULT;
                                if (prefixReuse) o = o.withPrefixReuse();
                                if (options.batching()) o = o.withBatchedDecode().withPrefillChunk(options.prefillChunk());
                                o = o.withKvCache(options.kvCache());
                                session = engine.session(loaded.method(), o);
                            }
                            return new Reservation(session, total);
                        }
                    }
                    try {
                        memory.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        if (session != null) kvUsed -= held; // dropped: its cache goes with it
                        throw new ApiError(503, "server_error", "shutting_down", null, "the server is stopping");
                    }
                }
            } finally {
                memoryQueue.remove(ticket);
                memory.notifyAll();
            }
        }
    }

    /** Puts {@code session} back as idle after a generation and gives back its reservation, keeping its cache's bytes. */
    private void release(String key, Reservation r) {
        synchronized (memory) {
            Session session = r.session();
            kvUsed -= r.bytes();
            if (!prefixReuse) session.reset(); // nothing to reuse: an idle session holds no cache
            long charge = session.cacheBytes();
            idle.computeIfAbsent(key, k -> new ArrayDeque<>()).addFirst(session);
            idleCharge.put(session, charge);
            idleKey.put(session, key);
            kvUsed += charge;
            // a cache never outgrows its reservation (KVCache.limitGrowth); the idle count is bounded too
            while ((kvUsed > kvCap || idleCharge.size() > maxIdle()) && !idleCharge.isEmpty()) evictLeastRecentlyUsed();
            memory.notifyAll();
        }
    }

    /** Idle sessions kept at most: enough for a few conversations per slot. */
    private int maxIdle() {
        return Math.max(16, 4 * options.parallel());
    }

    /** Drops the idle session used longest ago, with its cache. Holds {@link #memory}. */
    private void evictLeastRecentlyUsed() {
        var oldest = idleCharge.entrySet().iterator().next();
        Session s = oldest.getKey();
        idleCharge.remove(s);
        idle.get(idleKey.remove(s)).remove(s);
        kvUsed -= oldest.getValue();
        s.reset();
        evictions++;
    }

    private void generate(HttpExchange ex, Request req, Loaded loaded, int[] prompt, GenerateOptions generation,
                          long need) {
        String id = (req.chat() ? "chatcmpl-" : "cmpl-") + Long.toHexString(created) + "-" + ids.incrementAndGet();
        long now = System.currentTimeMillis() / 1000;
        String key = loaded.name() + (req.routing() ? "#routing" : "");
        Reservation reservation = reserve(key, loaded, req, prompt, need);
        Session session = reservation.session();
        active.incrementAndGet();
        // the session goes back to the pool as soon as the answer is computed, before it is written, so that a
        // client's next turn, sent the moment it has the answer, finds the cache it can reuse
        var released = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable done = () -> {
            if (released.compareAndSet(false, true)) {
                active.decrementAndGet();
                release(key, reservation);
            }
        };
        try {
            beforeGeneration.run();
            if (req.stream()) stream(ex, req, loaded, prompt, generation, session, id, now, done);
            else {
                Completion c = session.generate(prompt, generation, null);
                Map<String, Object> body = envelope(id, req.chat() ? "chat.completion" : "text_completion", now);
                Map<String, Object> choice = new LinkedHashMap<>();
                choice.put("index", 0);
                if (req.chat()) {
                    Map<String, Object> message = new LinkedHashMap<>();
                    message.put("role", "assistant");
                    message.put("content", c.text());
                    choice.put("message", message);
                }
                else choice.put("text", c.text());
                choice.put("logprobs", null);
                choice.put("finish_reason", finishReason(c));
                body.put("choices", List.of(choice));
                body.put("usage", usage(c, session.reusedPrefix()));
                body.put("moice", extension(loaded, req, session, prompt, c));
                done.run();
                sendJson(ex, 200, body);
            }
        } finally {
            done.run();
        }
    }

    /**
     * The idle session of {@code key} that holds the longest prefix of {@code prompt} in its cache (the one that ran
     * the earlier turns of this conversation, when it is idle); with prefix reuse, null when none shares a token (a
     * new session: the idle caches stay for their conversations, until the pool needs their room); without, the one
     * used last, or null when none is idle. Holds {@link #memory}.
     */
    private Session take(String key, int[] prompt) {
        Deque<Session> pool = idle.get(key);
        if (pool == null) return null;
        Session best = null;
        int longest = prefixReuse ? 0 : -1;
        for (Session s : pool) {
            int n = prefixReuse ? s.commonPrefix(prompt) : 0;
            if (n > longest) {
                best = s;
                longest = n;
            }
        }
        if (best != null) pool.remove(best);
        return best;
    }

    private void stream(HttpExchange ex, Request req, Loaded loaded, int[] prompt, GenerateOptions generation,
                        Session session, String id, long now, Runnable done) {
        String object = req.chat() ? "chat.completion.chunk" : "text_completion";
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        OutputStream out;
        try {
            ex.sendResponseHeaders(200, 0);
            out = ex.getResponseBody();
            out.flush(); // the status line and headers now, before the first token
        } catch (IOException e) {
            throw new ClientGone(e);
        }
        // until the first piece, SSE comments every heartbeatMillis: a long prefill writes nothing else, and only a
        // failed write tells that the client has gone (the JDK's server does not report a closed connection)
        var heartbeat = new Heartbeat(out, session);
        Consumer<String> piece = text -> {
            heartbeat.stop();
            beforePiece.accept(text);
            event(out, chunk(id, object, now, req.chat(), text, null, req.chat() ? Map.of("content", text) : null));
        };
        try {
            if (req.chat())
                event(out, chunk(id, object, now, true, "", null, roleDelta()));
            Completion c;
            try {
                heartbeat.start();
                c = session.generate(prompt, generation, piece);
            } catch (ClientGone | java.util.concurrent.CancellationException gone) {
                cancelled.incrementAndGet();
                return;
            } catch (RuntimeException e) { // headers are sent: report the error in the stream
                System.err.println("moice serve: generation failed: " + e);
                event(out, new ApiError(500, "server_error", "internal_error", null, "generation failed: " + e).body());
                return;
            }
            Map<String, Object> last = chunk(id, object, now, req.chat(), "", finishReason(c),
                    req.chat() ? Map.of() : null);
            last.put("moice", extension(loaded, req, session, prompt, c));
            Map<String, Object> u = null;
            if (req.includeUsage()) {
                u = envelope(id, object, now);
                u.put("choices", List.of());
                u.put("usage", usage(c, session.reusedPrefix()));
            }
            done.run();
            event(out, last);
            if (u != null) event(out, u);
            write(out, "data: [DONE]\n\n");
        } catch (ClientGone gone) {
            cancelled.incrementAndGet();
        } finally {
            heartbeat.stop();
        }
    }

    /**
     * Writes an SSE comment line every {@link #heartbeatMillis} until stopped; the first write that fails cancels the
     * session's generation. Its writes cannot interleave with the pieces': each write holds the lock that
     * {@link #stop} (called before the first piece is written) takes, and checks the stop under it.
     */
    private final class Heartbeat {
        private final OutputStream out;
        private final Session session;
        private volatile boolean stopped;
        private Thread thread;

        Heartbeat(OutputStream out, Session session) {
            this.out = out;
            this.session = session;
        }

        void start() {
            thread = Thread.ofVirtual().name("moice-serve-heartbeat").start(() -> {
                try {
                    while (true) {
                        Thread.sleep(heartbeatMillis);
                        synchronized (this) {
                            if (stopped) return;
                            write(out, ": prefill\n\n");
                        }
                    }
                } catch (ClientGone gone) {
                    session.cancel();
                } catch (InterruptedException e) {
                    // stopped
                }
            });
        }

        void stop() {
            if (stopped) return;
            synchronized (this) {
                stopped = true;
            }
            if (thread != null) thread.interrupt();
        }
    }

    private Map<String, Object> chunk(String id, String object, long now, boolean chat, String text, String finish,
                                      Map<String, Object> delta) {
        Map<String, Object> c = envelope(id, object, now);
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (chat) choice.put("delta", delta);
        else {
            choice.put("text", text);
            choice.put("logprobs", null);
        }
        choice.put("finish_reason", finish);
        c.put("choices", List.of(choice));
        return c;
    }

    private static Map<String, Object> roleDelta() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("role", "assistant");
        d.put("content", "");
        return d;
    }

    private Map<String, Object> envelope(String id, String object, long now) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("object", object);
        m.put("created", now);
        m.put("model", options.modelId());
        return m;
    }

    private static String finishReason(Completion c) {
        return switch (c.stopReason()) {
            case "length", "context" -> "length";
            default -> "stop"; // eos, a stop string
        };
    }

    /** OpenAI's usage object; {@code prompt_tokens_details.cached_tokens}: prompt tokens taken from a cached prefix. */
    private static Map<String, Object> usage(Completion c, int cached) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", c.promptTokens());
        u.put("completion_tokens", c.generatedTokens());
        u.put("total_tokens", c.promptTokens() + c.generatedTokens());
        u.put("prompt_tokens_details", Map.of("cached_tokens", cached));
        return u;
    }

    private Map<String, Object> extension(Loaded loaded, Request req, Session session, int[] prompt, Completion c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", loaded.name());
        if (req.routing()) session.routing().ifPresent(r -> {
            Map<String, Object> json = routingJson(r);
            if (req.routingTokens()) session.routingTrace().ifPresent(t -> addTrace(json, t, prompt, c.tokens()));
            m.put("routing", json);
        });
        return m;
    }

    /**
     * Adds the per-position routing to {@link #routingJson}: {@code prompt_tokens}, {@code tokens} (the text of every
     * position fed: the prompt's, then the generated ones that were fed back) and per layer {@code experts} and
     * {@code weights}, {@code [head][position][rank]}.
     */
    private void addTrace(Map<String, Object> json, RoutingTrace t, int[] prompt, int[] generated) {
        int n = t.numLayers() == 0 ? 0 : t.positions()[0];
        List<Object> tokens = new ArrayList<>(n);
        for (int p = 0; p < n; p++) {
            int id = p < prompt.length ? prompt[p] : generated[p - prompt.length];
            tokens.add(engine.detokenize(new int[]{id}));
        }
        json.put("prompt_tokens", prompt.length);
        json.put("tokens", tokens);
        @SuppressWarnings("unchecked") List<Object> layers = (List<Object>) json.get("layers");
        for (int l = 0; l < t.numLayers(); l++) {
            List<Object> experts = new ArrayList<>(), weights = new ArrayList<>();
            for (int h = 0; h < t.numHeads(); h++) {
                List<Object> he = new ArrayList<>(), hw = new ArrayList<>();
                for (int p = 0; p < t.positions()[l]; p++) {
                    List<Object> e = new ArrayList<>(t.topK()), w = new ArrayList<>(t.topK());
                    for (int k = 0; k < t.topK(); k++) {
                        e.add(t.expert(l, p, h, k));
                        w.add(Math.round(t.weight(l, p, h, k) * 1e4) / 1e4);
                    }
                    he.add(e);
                    hw.add(w);
                }
                experts.add(he);
                weights.add(hw);
            }
            @SuppressWarnings("unchecked") Map<String, Object> layer = (Map<String, Object>) layers.get(l);
            layer.put("experts", experts);
            layer.put("weights", weights);
        }
    }

    /** {@code {"bases", "top_k", "layers": [{"layer", "positions", "selected": [[count per expert] per head]}]}}. */
    static Map<String, Object> routingJson(RoutingCounts r) {
        List<Object> layers = new ArrayList<>();
        for (int l = 0; l < r.numLayers(); l++) {
            List<Object> heads = new ArrayList<>();
            for (long[] h : r.selected()[l]) {
                List<Object> counts = new ArrayList<>();
                for (long c : h) counts.add(c);
                heads.add(counts);
            }
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("layer", l);
            layer.put("positions", r.positions()[l]);
            layer.put("selected", heads);
            layers.add(layer);
        }
        List<Object> bases = new ArrayList<>();
        for (double b : r.bases()) bases.add(b);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bases", bases);
        m.put("top_k", r.topK());
        m.put("layers", layers);
        return m;
    }

    // ---- writing ----

    /** The client closed the connection; the generation writing to it stops. */
    static final class ClientGone extends RuntimeException {
        ClientGone(IOException cause) {
            super(cause);
        }
    }

    private static void event(OutputStream out, Object json) {
        write(out, "data: " + Json.write(json) + "\n\n");
    }

    private static void write(OutputStream out, String s) {
        try {
            out.write(s.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new ClientGone(e);
        }
    }

    private static void sendJson(HttpExchange ex, int status, Object body) {
        byte[] bytes = Json.write(body).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        try {
            ex.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        } catch (IOException e) {
            throw new ClientGone(e);
        }
    }

    private static void sendError(HttpExchange ex, ApiError e) {
        if (ex.getResponseCode() != -1) return; // headers already sent
        try {
            sendJson(ex, e.status, e.body());
        } catch (ClientGone | UncheckedIOException ignored) {
            // the client is gone
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "moice server on %s (%s, methods %s)", url(), options.modelId(), methodNames());
    }
}
