package moice.server;

import moice.io.Json;
import moice.model.KVCache;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The KV pool ({@code --kv-memory}): a cap that fits two sequences makes a third concurrent request wait (holding
 * its slot, not allocating) and then complete with its solo answer; a full queue still answers 429; idle caches kept
 * for prefix reuse are evicted least recently used first; the accounting returns to what idle sessions hold (0
 * without prefix reuse) when all is done; a request that can never fit gets 400.
 *
 * <p>Bytes are computed independently of the server: {@code 2 (K and V) × 4 bytes × layers × kvDim} per position
 * ({@link KVCache#bytesFor}), times prompt + max_tokens positions.
 */
class ServeKvMemoryTest {
    static final int PROMPT = 20, MAX_TOKENS = 30;
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server plain;
    static long perPosition, perRequest;

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        plain = f.start(f.options("vanilla").withPrefixReuse(false).withBatching(false));
        var c = f.engine.config();
        perPosition = 2L * 4 * c.numLayers() * c.kvDim();
        assertEquals(perPosition, KVCache.bytesFor(c, 1));
        perRequest = perPosition * (PROMPT + MAX_TOKENS);
    }

    @AfterAll
    static void stop() {
        if (plain != null) plain.stop();
        if (f != null) f.engine.close();
    }

    /** {@code n} token ids starting with {@code first} (distinct first tokens: prompts that share no prefix). */
    static int[] ids(int first, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + (first * 37 + i * 11) % 1400;
        t[0] = first;
        return t;
    }

    static String body(int[] prompt, int maxTokens) {
        List<Object> p = new ArrayList<>();
        for (int t : prompt) p.add((long) t);
        return "{\"prompt\": " + Json.write(p) + ", \"max_tokens\": " + maxTokens + "}";
    }

    static String text(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> choice = Json.object(Json.array(ServeFixture.json(r).get("choices"), "c").get(0), "c");
        return Json.string(choice.get("text"), "text");
    }

    static long cached(HttpResponse<String> r) {
        Map<String, Object> usage = Json.object(ServeFixture.json(r).get("usage"), "usage");
        return (Long) Json.object(usage.get("prompt_tokens_details"), "d").get("cached_tokens");
    }

    @Test
    void aThirdRequestWaitsForRoomThenAnswersAsAlone() throws Exception {
        int[][] prompts = {ids(100, PROMPT), ids(200, PROMPT), ids(300, PROMPT)};
        String[] solo = new String[3];
        for (int i = 0; i < 3; i++) solo[i] = text(f.post(plain, "/v1/completions", body(prompts[i], MAX_TOKENS)));
        for (boolean reuse : new boolean[]{false, true}) {
            // room for two requests, not three; three slots, so only memory holds the third back; no queue
            Server s = f.start(f.options("vanilla").withParallel(3, 0).withKvMemory(2 * perRequest + perRequest / 2)
                    .withPrefixReuse(reuse).withPrefillChunk(8));
            CountDownLatch gate = new CountDownLatch(1);
            s.beforeGeneration = () -> {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            };
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<HttpResponse<String>>> answers = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    String b = body(prompts[i], MAX_TOKENS);
                    answers.add(pool.submit(() -> f.post(s, "/v1/completions", b)));
                }
                ServeFixture.await(() -> s.activeGenerations() == 2, "two generations holding their memory");
                assertEquals(2 * perRequest, s.kvBytesInUse(), "two reservations of prompt + max_tokens positions");
                String third = body(prompts[2], MAX_TOKENS);
                answers.add(pool.submit(() -> f.post(s, "/v1/completions", third)));
                ServeFixture.await(() -> s.waitingForMemory() == 1, "the third request waiting for KV memory");
                Thread.sleep(100);
                assertEquals(2, s.activeGenerations(), "the third did not start past the cap");
                assertTrue(s.kvBytesInUse() <= s.kvMemory());
                // the queue (0 places) is full: one more is refused at once
                var refused = f.post(s, "/v1/completions", body(ids(400, PROMPT), MAX_TOKENS));
                assertEquals(429, refused.statusCode(), refused.body());
                assertTrue(refused.headers().firstValue("Retry-After").isPresent());
                gate.countDown();
                for (int i = 0; i < 3; i++)
                    assertEquals(solo[i], text(answers.get(i).get(60, TimeUnit.SECONDS)), "reuse " + reuse + " request " + i);
            }
            ServeFixture.await(() -> s.admittedRequests() == 0, "all requests done");
            assertEquals(0, s.waitingForMemory());
            if (!reuse) assertEquals(0, s.kvBytesInUse(), "no reservation left behind");
            else {
                // only the idle caches kept for reuse remain counted, each at most one request's reservation
                assertEquals(s.idleKvBytes(), s.kvBytesInUse(), "what is counted is what idle sessions hold");
                assertTrue(s.idleKvBytes() > 0 && s.idleKvBytes() <= s.kvMemory(), "idle " + s.idleKvBytes());
            }
            s.stop();
        }
    }

    @Test
    void idleCachesAreEvictedLeastRecentlyUsedFirst() {
        // three sequences' room minus one byte: two idle caches fit, a third request evicts one
        Server s = f.start(f.options("vanilla").withKvMemory(3 * perRequest - 1));
        try {
            int[] a = ids(100, PROMPT), b = ids(200, PROMPT), c = ids(300, PROMPT);
            for (int[] p : new int[][]{a, b}) text(f.post(s, "/v1/completions", body(p, MAX_TOKENS)));
            assertEquals(0, s.kvEvictions());
            assertEquals(2 * perRequest, s.idleKvBytes(), "each idle cache holds its request's positions");
            text(f.post(s, "/v1/completions", body(c, MAX_TOKENS))); // needs room: a, the least recently used, goes
            assertEquals(1, s.kvEvictions());
            int[] bNext = java.util.Arrays.copyOf(b, PROMPT + 3), aNext = java.util.Arrays.copyOf(a, PROMPT + 3);
            for (int i = 0; i < 3; i++) bNext[PROMPT + i] = aNext[PROMPT + i] = 500 + i;
            var rb = f.post(s, "/v1/completions", body(bNext, MAX_TOKENS - 3));
            assertTrue(cached(rb) >= PROMPT, "b's cache was kept: its prompt is reused (" + cached(rb) + ")");
            var ra = f.post(s, "/v1/completions", body(aNext, MAX_TOKENS - 3));
            assertEquals(0, cached(ra), "a's cache was evicted: nothing to reuse");
            assertEquals(text(f.post(plain, "/v1/completions", body(bNext, MAX_TOKENS - 3))), text(rb));
            assertEquals(text(f.post(plain, "/v1/completions", body(aNext, MAX_TOKENS - 3))), text(ra));
            assertEquals(s.idleKvBytes(), s.kvBytesInUse());
            assertTrue(s.kvBytesInUse() <= s.kvMemory());
        } finally {
            s.stop();
        }
    }

    @Test
    void aRequestThatCanNeverFitIsRefused() {
        Server s = f.start(f.options("vanilla").withKvMemory(2 * perRequest));
        try {
            int maxTokens = 2 * (PROMPT + MAX_TOKENS); // prompt + this > twice a request's positions
            var r = f.post(s, "/v1/completions", body(ids(100, PROMPT), maxTokens));
            assertEquals(400, r.statusCode(), r.body());
            Map<String, Object> error = Json.object(ServeFixture.json(r).get("error"), "error");
            assertEquals("kv_memory_exceeded", error.get("code"));
            assertEquals("max_tokens", error.get("param"));
            String message = (String) error.get("message");
            assertTrue(message.contains((PROMPT + maxTokens) + " positions") && message.contains("--kv-memory")
                    && message.contains(perPosition + " bytes per position"), message);
            assertEquals(0, s.kvBytesInUse());
            // the same prompt with a max_tokens that fits runs
            text(f.post(s, "/v1/completions", body(ids(100, PROMPT), MAX_TOKENS)));
        } finally {
            s.stop();
        }
    }

    @Test
    void modelsReportsTheCapAndBytesPerPosition() {
        Server s = f.start(f.options("vanilla", "moice:" + f.routers, "ab").withParallel(2, 4));
        try {
            Map<String, Object> data = Json.object(Json.array(ServeFixture.json(f.get(s, "/v1/models")).get("data"),
                    "data").get(0), "model");
            Map<String, Object> m = Json.object(data.get("moice"), "moice");
            Map<String, Object> per = Json.object(m.get("kv_bytes_per_position"), "per");
            assertEquals(perPosition, per.get("vanilla"));
            assertEquals(perPosition, per.get("moice:r"), "MoICE keeps no rotated copies per sequence in serve");
            long ab = (Long) per.get("ab");
            assertEquals(0, ab % perPosition);
            assertTrue(ab / perPosition > 1, "Attention Buckets: a cache per bucket");
            // default: --parallel sequences of the whole context, of the method with the largest cache
            assertEquals(2L * f.engine.config().maxPositions() * ab, m.get("kv_memory_bytes"));
            assertEquals(s.kvMemory(), m.get("kv_memory_bytes"));
        } finally {
            s.stop();
        }
    }

    /**
     * {@code --kv-cache f16}: every session's cache in half precision, so a position costs half the stored bytes
     * plus the float32 working buffer of one layer ({@code 2 × 2 × layers × kvDim + 2 × 4 × kvDim}), the default cap
     * follows, and a request answers.
     */
    @Test
    void aHalfPrecisionCacheCostsHalfPerPosition() {
        Server s = f.start(f.options("vanilla").withParallel(2, 4).withKvCache(KVCache.Precision.F16));
        try {
            var c = f.engine.config();
            long half = 2L * 2 * c.numLayers() * c.kvDim() + 2L * 4 * c.kvDim();
            Map<String, Object> data = Json.object(Json.array(ServeFixture.json(f.get(s, "/v1/models")).get("data"),
                    "data").get(0), "model");
            Map<String, Object> m = Json.object(data.get("moice"), "moice");
            assertEquals(half, Json.object(m.get("kv_bytes_per_position"), "per").get("vanilla"));
            assertEquals(2L * c.maxPositions() * half, s.kvMemory());
            assertFalse(text(f.post(s, "/v1/completions", body(ids(5, PROMPT), 8))).isEmpty());
        } finally {
            s.stop();
        }
    }
}
