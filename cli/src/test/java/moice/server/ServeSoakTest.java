package moice.server;

import moice.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nothing a client sends crashes the server or leaks memory: a bounded fuzz/soak run on loopback. Worker threads send,
 * for a fixed number of requests, a random mix of: random bytes as the body; valid requests mutated as JSON trees
 * (fields dropped, added, replaced by values of every type and size) and as text (cut, spliced, bytes flipped); bodies
 * over the size limit; deeply nested JSON; garbage request lines and headers on a raw socket; a Content-Length larger
 * than the body, then a hang-up; chunked bodies with bad chunk sizes; slow clients trickling a request byte by byte
 * (some finish, some give up half way); streaming requests dropped after the first event, with a TCP reset; and plain
 * valid requests in between.
 *
 * <p>Checked: every HTTP answer is one of the documented statuses (200, 400, 404, 405, 413, 429; never a 5xx); while
 * slow clients hold connections, the others are still served; at the end {@code /health} answers, no generation or
 * request is left, a reference request gives the same answer as before the run, and the heap after a full GC is back
 * to what it was after the warm-up (which filled the server's session pools), within {@link #HEAP_SLACK}: a leak of
 * even {@code HEAP_SLACK / REQUESTS} bytes (about 8 KiB) per request would exceed it. The numbers are printed.
 */
class ServeSoakTest {
    static final int REQUESTS = 2000, WORKERS = 8;
    /** Allowed growth of the used heap (after GC) over the run. */
    static final long HEAP_SLACK = 16L << 20;
    static final long SEED = 20261203L;

    @TempDir
    Path tmp;

    ServeFixture f;
    Server server;
    final Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();

    @Test
    void fuzzAndSoakLeaveTheServerHealthyAndTheHeapAtBaseline() throws Exception {
        f = new ServeFixture(tmp);
        server = f.start(f.options("vanilla", "moice:" + f.routers).withParallel(2, 64).withContext(96)
                .withMaxBody(16 << 10).withDrainSeconds(2));
        try {
            String reference = ServeFixture.chat("Where is the key?", 8, "");
            // warm-up: every kind of session the run may open, two at a time (the pools' size), and the JIT
            for (int i = 0; i < 6; i++) {
                List<Future<?>> both = new ArrayList<>();
                try (ExecutorService two = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (String m : List.of("vanilla", "moice:r"))
                        for (String extra : List.of("", ", \"routing_tokens\": true"))
                            for (int k = 0; k < 2; k++)
                                both.add(two.submit(() -> f.post(server, "/v1/chat/completions", ServeFixture.chat(
                                        "warm up " + m, 12, "\"moice\": {\"method\": \"" + m + "\"" + extra + "}"))));
                }
                for (Future<?> x : both) x.get();
            }
            String before = ServeFixture.content(ServeFixture.json(f.post(server, "/v1/chat/completions", reference)));
            long heapBefore = usedHeapAfterGc();

            AtomicLong next = new AtomicLong();
            long started = System.nanoTime();
            try (ExecutorService pool = Executors.newFixedThreadPool(WORKERS)) {
                List<Future<?>> workers = new ArrayList<>();
                for (int w = 0; w < WORKERS; w++) {
                    workers.add(pool.submit(() -> {
                        long i;
                        while ((i = next.getAndIncrement()) < REQUESTS) one(new Random(SEED * 31 + i), i);
                        return null;
                    }));
                }
                for (Future<?> w : workers) w.get();
            }
            double seconds = (System.nanoTime() - started) / 1e9;

            assertEquals(200, f.get(server, "/health").statusCode());
            ServeFixture.await(() -> server.activeGenerations() == 0 && server.admittedRequests() == 0,
                    "every request to end");
            assertEquals(before, ServeFixture.content(ServeFixture.json(f.post(server, "/v1/chat/completions", reference))));
            long heapAfter = usedHeapAfterGc();
            Map<String, Integer> sorted = new TreeMap<>();
            outcomes.forEach((k, v) -> sorted.put(k, v.get()));
            System.out.printf("ServeSoakTest: %d requests in %.1f s (%d workers, seed %d); outcomes %s; "
                            + "heap used after GC: before %.1f MiB, after %.1f MiB (%+.2f MiB)%n", REQUESTS, seconds,
                    WORKERS, SEED, sorted, heapBefore / 1048576.0, heapAfter / 1048576.0,
                    (heapAfter - heapBefore) / 1048576.0);
            for (String k : sorted.keySet()) assertTrue(!k.contains("http 5"), "a 5xx answer: " + sorted);
            assertTrue(heapAfter - heapBefore < HEAP_SLACK, "heap grew by " + (heapAfter - heapBefore) + " bytes");
        } finally {
            // (the JDK's server may wait the whole drain time here: it counts connections it saw reset mid-request)
            server.stop();
            f.engine.close();
        }
    }

    static long usedHeapAfterGc() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) { // the least of a few full collections: garbage still in flight is not a leak
            System.gc();
            Thread.sleep(100);
            used = Math.min(used, rt.totalMemory() - rt.freeMemory());
        }
        return used;
    }

    private void count(String outcome) {
        outcomes.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
    }

    /** One request of a fault kind drawn from {@code r}. */
    private void one(Random r, long i) {
        try {
            switch (r.nextInt(12)) {
                case 0 -> http(r, randomBytes(r, r.nextInt(2000)));
                case 1, 2 -> http(r, Json.write(mutateTree(r, base(r), 1 + r.nextInt(3))).getBytes(StandardCharsets.UTF_8));
                case 3 -> http(r, mutateText(r, Json.write(base(r))));
                case 4 -> http(r, ("{\"messages\": " + "[".repeat(2000 + r.nextInt(20000))).getBytes(StandardCharsets.UTF_8));
                case 5 -> http(r, new byte[(16 << 10) + 1 + r.nextInt(50_000)]);
                case 6 -> raw(r, garbageHead(r), false);
                case 7 -> raw(r, shortBody(r), true);
                case 8 -> raw(r, badChunks(r), false);
                case 9 -> slow(r);
                case 10 -> dropStream(r);
                default -> http(r, Json.write(base(r)).getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            count("io " + e.getClass().getSimpleName());
        }
    }

    /** A valid request: chat or completion, small max_tokens, sometimes streamed, sometimes with routing. */
    private static Map<String, Object> base(Random r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", "tiny");
        if (r.nextBoolean()) m.put("messages", List.of(Map.of("role", "user", "content", "question " + r.nextInt(100))));
        else m.put("prompt", "Once upon a time " + r.nextInt(100));
        m.put("max_tokens", 1 + r.nextInt(6));
        if (r.nextInt(4) == 0) m.put("stream", true);
        Map<String, Object> ext = new LinkedHashMap<>();
        ext.put("method", r.nextBoolean() ? "vanilla" : "moice:r");
        if (ext.get("method").equals("moice:r") && r.nextBoolean()) ext.put("routing", true);
        m.put("moice", ext);
        return m;
    }

    private static final String[] KEYS = {"model", "messages", "prompt", "max_tokens", "max_completion_tokens",
            "temperature", "top_p", "top_k", "seed", "stop", "stream", "stream_options", "n", "logprobs", "tools",
            "moice", "role", "content", "method", "routing", "routing_tokens", "include_usage", "type", "text"};

    private static Object randomValue(Random r, int depth) {
        return switch (r.nextInt(depth > 2 ? 12 : 16)) {
            case 0 -> null;
            case 1 -> r.nextBoolean();
            case 2 -> (long) r.nextInt(21) - 10;
            case 3 -> r.nextLong();
            case 4 -> r.nextDouble() * 4 - 2;
            case 5 -> r.nextBoolean() ? 1e308 : -1e-308;
            case 6 -> "";
            case 7 -> randomString(r, 1 + r.nextInt(40));
            case 8 -> KEYS[r.nextInt(KEYS.length)];
            case 9 -> "x".repeat(r.nextInt(20_000));
            case 10 -> List.of(1L, 2L, 3L);
            case 11 -> List.of((long) Integer.MAX_VALUE + 1);
            case 12, 13 -> {
                List<Object> l = new ArrayList<>();
                for (int k = r.nextInt(4); k > 0; k--) l.add(randomValue(r, depth + 1));
                yield l;
            }
            default -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (int k = r.nextInt(4); k > 0; k--) m.put(KEYS[r.nextInt(KEYS.length)], randomValue(r, depth + 1));
                yield m;
            }
        };
    }

    private static String randomString(Random r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < n; k++) {
            int c = switch (r.nextInt(4)) {
                case 0 -> r.nextInt(32);             // controls
                case 1 -> 0x20 + r.nextInt(95);      // ASCII
                case 2 -> 0x80 + r.nextInt(0x800);   // Latin and beyond
                default -> 0x1F300 + r.nextInt(400); // emoji (surrogate pairs)
            };
            sb.appendCodePoint(c);
        }
        if (r.nextInt(8) == 0) sb.append('\uD800'); // a lone surrogate
        return sb.toString();
    }

    /** Replaces, removes or adds a field at a random place of the tree, {@code times} times. */
    @SuppressWarnings("unchecked")
    private static Object mutateTree(Random r, Object tree, int times) {
        for (int t = 0; t < times; t++) {
            Object node = tree;
            Object parent = null;
            Object key = null;
            for (int d = 0; d < 4 && (node instanceof Map<?, ?> || node instanceof List<?>) && r.nextInt(3) > 0; d++) {
                if (node instanceof Map<?, ?> m && !m.isEmpty()) {
                    Object k = new ArrayList<>(m.keySet()).get(r.nextInt(m.size()));
                    parent = node;
                    key = k;
                    node = m.get(k);
                } else if (node instanceof List<?> l && !l.isEmpty()) {
                    int k = r.nextInt(l.size());
                    parent = node;
                    key = k;
                    node = l.get(k);
                } else break;
            }
            Object value = randomValue(r, 0);
            if (parent == null) {
                if (r.nextInt(4) == 0) tree = value;
                else if (tree instanceof Map<?, ?> m) {
                    Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) m);
                    if (r.nextBoolean() && !copy.isEmpty()) copy.remove(new ArrayList<>(copy.keySet()).get(r.nextInt(copy.size())));
                    else copy.put(KEYS[r.nextInt(KEYS.length)], value);
                    tree = copy;
                }
            } else {
                Object replaced = replace(tree, parent, key, r.nextInt(4) == 0 ? REMOVE : value);
                tree = replaced;
            }
        }
        return tree;
    }

    private static final Object REMOVE = new Object();

    /** A copy of {@code tree} (the parts along the path) with {@code parent[key]} set to {@code value} or removed. */
    @SuppressWarnings("unchecked")
    private static Object replace(Object tree, Object parent, Object key, Object value) {
        if (tree == parent) {
            if (tree instanceof Map<?, ?> m) {
                Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) m);
                if (value == REMOVE) copy.remove(key);
                else copy.put((String) key, value);
                return copy;
            }
            List<Object> copy = new ArrayList<>((List<Object>) tree);
            if (value == REMOVE) copy.remove((int) key);
            else copy.set((int) key, value);
            return copy;
        }
        if (tree instanceof Map<?, ?> m) {
            Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) m);
            copy.replaceAll((k, v) -> replace(v, parent, key, value));
            return copy;
        }
        if (tree instanceof List<?> l) {
            List<Object> copy = new ArrayList<>();
            for (Object v : l) copy.add(replace(v, parent, key, value));
            return copy;
        }
        return tree;
    }

    /** The text cut, spliced, duplicated or with bytes flipped. */
    private static byte[] mutateText(Random r, String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int at = r.nextInt(b.length + 1);
        switch (r.nextInt(5)) {
            case 0 -> out.write(b, 0, at);                                    // truncated
            case 1 -> { out.write(b, 0, at); out.write(b, r.nextInt(b.length), 0); out.write(b, at / 2, b.length - at / 2); }
            case 2 -> { out.writeBytes(b); out.writeBytes(b); }               // two documents
            case 3 -> { for (int k = 0; k < b.length; k++) out.write(r.nextInt(30) == 0 ? r.nextInt(256) : b[k]); }
            default -> { out.write(b, 0, at); out.writeBytes(",\"model\":\"tiny\"".getBytes(StandardCharsets.UTF_8)); out.write(b, at, b.length - at); }
        }
        return out.toByteArray();
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** POSTs {@code body} to a random endpoint and counts the status. */
    private void http(Random r, byte[] body) throws IOException {
        String path = switch (r.nextInt(5)) {
            case 0 -> "/v1/completions";
            case 1 -> "/v1/models";
            default -> "/v1/chat/completions";
        };
        HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        try {
            HttpResponse<String> resp = f.client.send(req, HttpResponse.BodyHandlers.ofString());
            count("http " + resp.statusCode());
            int s = resp.statusCode();
            if (s != 200 && s != 429) { // an error answer is an OpenAI error object
                Map<String, Object> e = Json.object(ServeFixture.json(resp).get("error"), "error");
                assertTrue(e.get("message") instanceof String, resp.body());
            }
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] garbageHead(Random r) {
        return switch (r.nextInt(5)) {
            case 0 -> randomBytes(r, 1 + r.nextInt(500));
            case 1 -> ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + "X-A: " + "a".repeat(400_000) + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1);
            case 2 -> ("GET /" + "%zz".repeat(r.nextInt(200)) + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
            case 3 -> ("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n{}").getBytes(StandardCharsets.ISO_8859_1);
            default -> ("BREW /health HTTP/9.9\r\n" + "H: v\r\n".repeat(300) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
        };
    }

    /** Headers promising more body than is sent (the socket is then closed, sometimes with a reset). */
    private static byte[] shortBody(Random r) {
        String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
        return ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + (body.length() + 1 + r.nextInt(10_000)) + "\r\n\r\n" + body.substring(0, r.nextInt(body.length())))
                .getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] badChunks(Random r) {
        String[] chunks = {"zz\r\n{}\r\n0\r\n\r\n", "FFFFFFFFFFFF\r\n{}\r\n", "2\r\n{}\r\n", "-1\r\n\r\n",
                "5\r\n{\"a\":1}\r\n0\r\n\r\n"};
        return ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunks[r.nextInt(chunks.length)]).getBytes(StandardCharsets.UTF_8);
    }

    /** Writes {@code bytes} on a raw connection, reads what comes back (bounded), then closes (maybe with a reset). */
    private void raw(Random r, byte[] bytes, boolean hangUp) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(1000); // an incomplete request gets no answer: the server waits for the rest
            try {
                s.getOutputStream().write(bytes);
                s.getOutputStream().flush();
            } catch (IOException e) {
                count("raw refused mid-write");
                return;
            }
            if (hangUp) {
                if (r.nextBoolean()) s.setSoLinger(true, 0); // a TCP reset instead of a clean close
                count("raw hang-up");
                return;
            }
            count("raw " + statusLine(s.getInputStream()));
        }
    }

    /** The status code of the first response line, or what happened instead. */
    private static String statusLine(InputStream in) {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            int c;
            while ((c = in.read()) >= 0 && c != '\n' && line.size() < 200) line.write(c);
        } catch (SocketTimeoutException e) {
            return "no answer (timeout)";
        } catch (IOException e) {
            return "closed (" + e.getClass().getSimpleName() + ")";
        }
        String l = line.toString(StandardCharsets.ISO_8859_1);
        if (l.startsWith("HTTP/1.1 ") && l.length() >= 12) return "http " + l.substring(9, 12);
        return l.isEmpty() ? "closed" : "other";
    }

    /** A valid request sent a few bytes at a time with pauses; sometimes abandoned half way. */
    private void slow(Random r) throws IOException {
        String body = Json.write(base(r));
        byte[] all = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + body)
                .getBytes(StandardCharsets.UTF_8);
        boolean abandon = r.nextBoolean();
        int stop = abandon ? r.nextInt(all.length) : all.length;
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            for (int k = 0; k < stop; k += 16) {
                out.write(all, k, Math.min(16, stop - k));
                out.flush();
                Thread.sleep(5);
            }
            if (abandon) {
                s.setSoLinger(true, 0);
                count("slow abandoned");
                return;
            }
            count("slow " + statusLine(s.getInputStream()));
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A streaming request whose client reads the first event and then resets the connection. */
    private void dropStream(Random r) throws IOException {
        String body = "{\"prompt\": \"Count: one two three\", \"max_tokens\": 60, \"stream\": true, \"moice\": {\"method\": \""
                + (r.nextBoolean() ? "vanilla" : "moice:r") + "\"}}";
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(30_000);
            s.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
            String status = statusLine(s.getInputStream());
            s.setSoLinger(true, 0);
            count("dropped stream after " + status);
        }
    }
}
