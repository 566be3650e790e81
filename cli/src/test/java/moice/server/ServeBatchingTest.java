package moice.server;

import moice.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching: 16 concurrent greedy clients × 8 requests each (chat and completions, streamed or not, four
 * methods) on a server that batches their decode steps (and reuses prefixes: the defaults) all complete, and each
 * output equals its solo run on a server that does neither, one request at a time. The engine's batch counts show that
 * steps did run together.
 */
class ServeBatchingTest {
    static final int CLIENTS = 16, REQUESTS = 8;
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server batching, solo;

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        List<String> methods = List.of("vanilla", "moice:" + f.routers, "equal", "mspoe");
        batching = f.start(f.options(methods.toArray(String[]::new)).withParallel(CLIENTS, 4 * CLIENTS));
        solo = f.start(f.options(methods.toArray(String[]::new)).withParallel(1, 4 * CLIENTS).withBatching(false)
                .withPrefixReuse(false));
    }

    @AfterAll
    static void stop() {
        if (batching != null) batching.stop();
        if (solo != null) solo.stop();
        if (f != null) f.engine.close();
    }

    /** Request k of client c: its path and body. */
    static String[] request(int c, int k) {
        String method = List.of("vanilla", "moice:r", "equal", "mspoe").get((c + k) % 4);
        int maxTokens = 6 + (c * 7 + k * 3) % 19;
        boolean stream = (c + k) % 3 == 0;
        String ext = "\"moice\": {\"method\": \"" + method + "\"}" + (stream ? ", \"stream\": true" : "");
        if ((c + k) % 5 == 0)
            return new String[]{"/v1/completions", "{\"prompt\": \"Client " + c + " story " + k + ": once\", \"max_tokens\": "
                    + maxTokens + ", " + ext + "}"};
        // a conversation that grows from request to request, as a chat client's would
        List<Object> messages = new ArrayList<>();
        for (int j = 0; j <= k % 3; j++) {
            messages.add(java.util.Map.of("role", "user", "content", "Client " + c + " asks question " + (k - j) + "."));
            if (j < k % 3) messages.add(java.util.Map.of("role", "assistant", "content", "Answer " + j + "."));
        }
        return new String[]{"/v1/chat/completions", "{\"messages\": " + Json.write(messages) + ", \"max_tokens\": "
                + maxTokens + ", " + ext + "}"};
    }

    /** The generated text of a response, streamed or not. */
    static String text(String path, java.net.http.HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        boolean chat = path.contains("chat");
        if (!r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            var choice = Json.object(Json.array(ServeFixture.json(r).get("choices"), "c").get(0), "c");
            return chat ? (String) Json.object(choice.get("message"), "m").get("content") : (String) choice.get("text");
        }
        StringBuilder sb = new StringBuilder();
        List<String> data = ServeTest.dataLines(r.body());
        assertEquals("[DONE]", data.getLast());
        for (String d : data.subList(0, data.size() - 1)) {
            var choices = Json.array(Json.object(Json.parse(d, "chunk"), "chunk").get("choices"), "c");
            if (choices.isEmpty()) continue;
            var choice = Json.object(choices.get(0), "c");
            Object piece = chat ? Json.object(choice.get("delta"), "d").get("content") : choice.get("text");
            if (piece != null) sb.append((String) piece);
        }
        return sb.toString();
    }

    @Test
    void sixteenConcurrentClientsGetTheirSoloAnswers() throws Exception {
        String[][] expected = new String[CLIENTS][REQUESTS];
        for (int c = 0; c < CLIENTS; c++)
            for (int k = 0; k < REQUESTS; k++) {
                String[] q = request(c, k);
                expected[c][k] = text(q[0], f.post(solo, q[0], q[1]));
            }
        long[] before = f.engine.decodeBatchCounts();
        List<Future<String[]>> clients = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < CLIENTS; c++) {
                int client = c;
                clients.add(pool.submit(() -> {
                    String[] got = new String[REQUESTS];
                    for (int k = 0; k < REQUESTS; k++) {
                        String[] q = request(client, k);
                        got[k] = text(q[0], f.post(batching, q[0], q[1]));
                    }
                    return got;
                }));
            }
            for (int c = 0; c < CLIENTS; c++) {
                String[] got = clients.get(c).get(120, TimeUnit.SECONDS);
                for (int k = 0; k < REQUESTS; k++)
                    assertEquals(expected[c][k], got[k], "client " + c + " request " + k + " " + request(c, k)[1]);
            }
        }
        long[] after = f.engine.decodeBatchCounts();
        long batches = after[0] - before[0], steps = after[1] - before[1];
        System.out.printf("ServeBatchingTest: %d decode steps in %d batches (mean batch %.2f)%n", steps, batches,
                steps / (double) Math.max(1, batches));
        assertTrue(steps > batches, "some decode steps ran together: " + steps + " steps in " + batches + " batches");
        ServeFixture.await(() -> batching.activeGenerations() == 0, "no generation left");
    }
}
