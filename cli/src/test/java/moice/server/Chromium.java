package moice.server;

import moice.io.Json;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A headless Chromium driven over the DevTools protocol (CDP) with nothing but the JDK: the browser is started with
 * {@code --remote-debugging-port=0}, says on stderr where its DevTools endpoint listens, and one page target is driven
 * through a {@link WebSocket} (commands {@code {"id", "method", "params"}}, answers matched by id, events ignored).
 * Enough for a test: navigate, evaluate JavaScript, send real key and mouse events, take a screenshot.
 */
final class Chromium implements AutoCloseable {
    private static final Pattern DEVTOOLS = Pattern.compile("DevTools listening on (ws://[^\\s]+)");

    private final Process process;
    private final WebSocket socket;
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, CompletableFuture<Map<String, Object>>> pending = new ConcurrentHashMap<>();
    private final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());

    /** The browser's executable: {@code $MOICE_CHROMIUM}, else {@code chromium} or {@code chromium-browser} on the PATH. */
    static Optional<Path> find() {
        String env = System.getenv("MOICE_CHROMIUM");
        if (env != null && !env.isBlank()) return Optional.of(Path.of(env));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
            for (String name : List.of("chromium", "chromium-browser"))
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) return Optional.of(Path.of(dir, name));
        return Optional.empty();
    }

    /**
     * Starts {@code executable} headless with a fresh profile under {@code profile}, a {@code width × height} window.
     * The flags keep it off the network (no sync, no component updates, no QUIC): on a closed network its own
     * background connections would otherwise fail and get in the way.
     */
    Chromium(Path executable, Path profile, int width, int height) throws IOException, InterruptedException {
        List<String> cmd = List.of(executable.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=" + width + "," + height,
                "--user-data-dir=" + profile.toAbsolutePath(), "--remote-debugging-port=0", "about:blank");
        process = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String browserUrl = null;
        BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String line;
        while (browserUrl == null && (line = err.readLine()) != null) {
            log.add(line);
            Matcher m = DEVTOOLS.matcher(line);
            if (m.find()) browserUrl = m.group(1);
            if (System.nanoTime() > deadline) break;
        }
        if (browserUrl == null) {
            process.destroyForcibly();
            throw new IOException("chromium did not open its DevTools endpoint: " + String.join("\n", log));
        }
        Thread drain = new Thread(() -> { // keep reading stderr so that the browser never blocks on it
            try {
                String l;
                while ((l = err.readLine()) != null) log.add(l);
            } catch (IOException ignored) {
                // the browser is gone
            }
        }, "chromium-stderr");
        drain.setDaemon(true);
        drain.start();
        URI endpoint = URI.create(browserUrl);
        HttpClient http = HttpClient.newHttpClient();
        String pageSocket = null;
        while (pageSocket == null) { // the about:blank page target appears shortly after the endpoint
            HttpResponse<String> list = http.send(HttpRequest.newBuilder(
                    URI.create("http://" + endpoint.getAuthority() + "/json/list")).build(), HttpResponse.BodyHandlers.ofString());
            for (Object t : Json.array(Json.parse(list.body(), "/json/list"), "targets")) {
                Map<String, Object> target = Json.object(t, "target");
                if ("page".equals(target.get("type"))) pageSocket = (String) target.get("webSocketDebuggerUrl");
            }
            if (pageSocket == null) {
                if (System.nanoTime() > deadline) throw new IOException("chromium shows no page target");
                Thread.sleep(50);
            }
        }
        socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(20))
                .buildAsync(URI.create(pageSocket), new Listener()).join();
        call("Page.enable", Map.of());
        call("Runtime.enable", Map.of());
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                Map<String, Object> message = Json.object(Json.parse(text.toString(), "CDP message"), "CDP message");
                text.setLength(0);
                if (message.get("id") instanceof Long id) {
                    CompletableFuture<Map<String, Object>> f = pending.remove(id);
                    if (f != null) f.complete(message);
                } else if ("Runtime.consoleAPICalled".equals(message.get("method"))
                        || "Runtime.exceptionThrown".equals(message.get("method"))) {
                    log.add("page: " + Json.write(message.get("params")));
                }
            }
            ws.request(1);
            return null;
        }
    }

    /** Sends one CDP command and returns its {@code result}; a CDP error becomes an {@link IllegalStateException}. */
    Map<String, Object> call(String method, Map<String, Object> params) {
        long id = ids.incrementAndGet();
        CompletableFuture<Map<String, Object>> answer = new CompletableFuture<>();
        pending.put(id, answer);
        Map<String, Object> msg = new LinkedHashMap<>();
        msg.put("id", id);
        msg.put("method", method);
        msg.put("params", params);
        socket.sendText(Json.write(msg), true).join();
        Map<String, Object> reply;
        try {
            reply = answer.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("CDP " + method + ": no answer", e);
        }
        if (reply.get("error") != null) throw new IllegalStateException("CDP " + method + ": " + Json.write(reply.get("error")));
        return Json.object(reply.get("result"), "result");
    }

    /** The value of a JavaScript expression in the page (promises awaited), as parsed JSON. */
    Object eval(String expression) {
        Map<String, Object> r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true,
                "awaitPromise", true));
        if (r.get("exceptionDetails") != null)
            throw new IllegalStateException("page: " + expression + " threw " + Json.write(r.get("exceptionDetails")));
        return Json.object(r.get("result"), "result").get("value");
    }

    void navigate(String url) {
        call("Page.navigate", Map.of("url", url));
    }

    /** Types {@code text} into the focused element, as an IME would commit it. */
    void type(String text) {
        call("Input.insertText", Map.of("text", text));
    }

    /** Presses and releases Enter on the focused element. */
    void pressEnter() {
        for (String type : List.of("keyDown", "keyUp"))
            call("Input.dispatchKeyEvent", Map.of("type", type, "key", "Enter", "code", "Enter",
                    "windowsVirtualKeyCode", 13, "text", type.equals("keyDown") ? "\r" : ""));
    }

    /** Moves the mouse to viewport coordinates ({@code x}, {@code y}). */
    void mouseMove(double x, double y) {
        call("Input.dispatchMouseEvent", Map.of("type", "mouseMoved", "x", x, "y", y));
    }

    /** Waits (at most {@code seconds}) until the JavaScript expression is true. */
    void await(String expression, int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        // while a page loads its document may not be there yet: an exception counts as "not yet"
        BooleanSupplier holds = () -> {
            try {
                return Boolean.TRUE.equals(eval(expression));
            } catch (IllegalStateException e) {
                return false;
            }
        };
        while (!holds.getAsBoolean()) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("timed out waiting for " + expression + "; browser log:\n" + log());
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A PNG of the whole page (beyond the window when it is taller), written to {@code file}. */
    void screenshot(Path file) throws IOException {
        Map<String, Object> metrics = call("Page.getLayoutMetrics", Map.of());
        Map<String, Object> size = Json.object(metrics.get("cssContentSize"), "cssContentSize");
        Map<String, Object> clip = Map.of("x", 0, "y", 0, "width", Json.number(size.get("width"), "width"),
                "height", Json.number(size.get("height"), "height"), "scale", 1);
        double viewport = Json.number(Json.object(metrics.get("cssLayoutViewport"), "viewport").get("clientHeight"), "h");
        // beyond the viewport only when needed: it resizes the page, which may redraw it (and hide a hover tip)
        Map<String, Object> r = call("Page.captureScreenshot", Map.of("format", "png", "clip", clip,
                "captureBeyondViewport", Json.number(size.get("height"), "height") > viewport));
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, Base64.getDecoder().decode(Json.string(r.get("data"), "data")));
    }

    /** What the browser and the page wrote (stderr, console, exceptions). */
    String log() {
        synchronized (log) {
            return String.join("\n", log.subList(Math.max(0, log.size() - 60), log.size()));
        }
    }

    @Override
    public void close() {
        try {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "").get(5, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // closing anyway
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
