package moice.server;

import moice.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice serve} on the tiny chat model over loopback (ephemeral ports), through
 * {@link java.net.http.HttpClient}: answers equal {@code bin/moice generate} of the same prompt and method (greedy),
 * streaming, routing counts, the queue, disconnects and concurrency.
 */
class ServeTest {
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server server; // methods: vanilla (default), moice:r, equal

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        server = f.start(f.options("vanilla", "moice:" + f.routers, "equal").withParallel(4, 8));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.stop();
        if (f != null) f.engine.close();
    }

    /** {@code bin/moice generate --chat} of {@code prompt} with {@code method}, without the final newline. */
    static String cliChat(String prompt, int maxTokens, String... flags) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", f.model.toString(), "--chat", "--prompt",
                prompt, "--max-tokens", Integer.toString(maxTokens)));
        args.addAll(List.of(flags));
        moice.cli.CliTest.Run r = ServeFixture.cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().endsWith("\n"), r.out());
        return r.out().substring(0, r.out().length() - 1);
    }

    @Test
    void healthAndModels() {
        HttpResponse<String> h = f.get(server, "/health");
        assertEquals(200, h.statusCode());
        assertEquals(Map.of("status", "ok"), ServeFixture.json(h));
        HttpResponse<String> m = f.get(server, "/v1/models");
        assertEquals(200, m.statusCode());
        Map<String, Object> body = ServeFixture.json(m);
        assertEquals("list", body.get("object"));
        Map<String, Object> model = Json.object(Json.array(body.get("data"), "data").get(0), "model");
        assertEquals("tiny", model.get("id"));
        assertEquals("model", model.get("object"));
        assertEquals(List.of("vanilla", "moice:r", "equal"),
                Json.object(model.get("moice"), "moice").get("methods"));
    }

    @Test
    void chatEqualsGenerateChat() {
        String prompt = "Why is the sky blue?";
        HttpResponse<String> r = f.post(server, "/v1/chat/completions", ServeFixture.chat(prompt, 12, ""));
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> body = ServeFixture.json(r);
        assertEquals("chat.completion", body.get("object"));
        assertEquals("tiny", body.get("model"));
        String text = ServeFixture.content(body);
        assertEquals(cliChat(prompt, 12), text);
        Map<String, Object> usage = Json.object(body.get("usage"), "usage");
        int promptTokens = f.engine.chatTokens(List.of(moice.api.ChatMessage.user(prompt))).length;
        assertEquals((long) promptTokens, usage.get("prompt_tokens"));
        long completion = (Long) usage.get("completion_tokens");
        assertEquals(promptTokens + completion, usage.get("total_tokens"));
        assertTrue(completion >= 1 && completion <= 12);
        assertEquals(completion == 12 ? "length" : "stop", ServeFixture.finishReason(body));
        assertEquals("vanilla", Json.object(body.get("moice"), "moice").get("method"));
    }

    @Test
    void streamingConcatenatesToTheSameTextAndEndsWithDone() {
        String prompt = "Tell me a story.";
        String whole = ServeFixture.content(ServeFixture.json(
                f.post(server, "/v1/chat/completions", ServeFixture.chat(prompt, 16, ""))));
        HttpResponse<String> r = f.post(server, "/v1/chat/completions",
                ServeFixture.chat(prompt, 16, "\"stream\": true, \"stream_options\": {\"include_usage\": true}"));
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> data = dataLines(r.body());
        assertEquals("[DONE]", data.getLast());
        StringBuilder text = new StringBuilder();
        String finish = null;
        Map<String, Object> usage = null;
        for (String d : data.subList(0, data.size() - 1)) {
            Map<String, Object> chunk = Json.object(Json.parse(d, "chunk"), "chunk");
            assertEquals("chat.completion.chunk", chunk.get("object"));
            List<Object> choices = Json.array(chunk.get("choices"), "choices");
            if (choices.isEmpty()) {
                usage = Json.object(chunk.get("usage"), "usage");
                continue;
            }
            Map<String, Object> choice = Json.object(choices.get(0), "choice");
            Map<String, Object> delta = Json.object(choice.get("delta"), "delta");
            if (delta.get("content") != null) text.append((String) delta.get("content"));
            if (choice.get("finish_reason") != null) finish = (String) choice.get("finish_reason");
        }
        assertEquals(whole, text.toString());
        assertTrue(finish != null, "a chunk carries finish_reason");
        assertTrue(usage != null && (Long) usage.get("total_tokens") > 0, "the usage chunk");
        assertTrue(data.getFirst().contains("\"role\":\"assistant\""), data.getFirst());
    }

    /**
     * The payloads of an event stream's {@code data:} lines. Comment lines (a leading ':', e.g. the server's
     * ": prefill" heartbeat, sent whenever a prefill outlasts the heartbeat period, as on a loaded machine) are
     * allowed, as the SSE format allows them; anything else fails.
     */
    static List<String> dataLines(String body) {
        List<String> out = new ArrayList<>();
        for (String line : body.split("\n"))
            if (line.startsWith("data: ")) out.add(line.substring(6));
            else assertTrue(line.isEmpty() || line.startsWith(":"), "only data, comment and blank lines: '" + line + "'");
        return out;
    }

    @Test
    void completionsEqualGenerateAndStream() {
        String prompt = "Once upon a time";
        HttpResponse<String> r = f.post(server, "/v1/completions",
                "{\"prompt\": " + Json.write(prompt) + ", \"max_tokens\": 10, \"stop\": \"zzqq\"}");
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> body = ServeFixture.json(r);
        assertEquals("text_completion", body.get("object"));
        String text = Json.string(Json.object(Json.array(body.get("choices"), "c").get(0), "c").get("text"), "text");
        moice.cli.CliTest.Run cli = ServeFixture.cli("generate", "--model", f.model.toString(), "--prompt", prompt,
                "--max-tokens", "10");
        assertEquals(cli.out(), text + "\n");
        HttpResponse<String> s = f.post(server, "/v1/completions",
                "{\"prompt\": " + Json.write(prompt) + ", \"max_tokens\": 10, \"stream\": true}");
        List<String> data = dataLines(s.body());
        assertEquals("[DONE]", data.getLast());
        StringBuilder streamed = new StringBuilder();
        for (String d : data.subList(0, data.size() - 1))
            streamed.append((String) Json.object(Json.array(Json.object(Json.parse(d, "c"), "c").get("choices"), "c")
                    .get(0), "c").get("text"));
        assertEquals(text, streamed.toString());
    }

    @Test
    void stopStringsCutTheText() {
        String prompt = "Why is the sky blue?";
        String whole = cliChat(prompt, 12);
        if (whole.length() < 4) return; // nothing to cut (the tiny model ended at once)
        String stop = whole.substring(2, 4);
        String expected = whole.substring(0, whole.indexOf(stop));
        for (String form : List.of(Json.write(stop), "[" + Json.write(stop) + ", \"\\u0000never\"]")) {
            Map<String, Object> body = ServeFixture.json(f.post(server, "/v1/chat/completions",
                    ServeFixture.chat(prompt, 12, "\"stop\": " + form)));
            assertEquals(expected, ServeFixture.content(body), form);
            assertEquals("stop", ServeFixture.finishReason(body));
        }
    }

    /**
     * Sampled (temperature 1, seed 5) so that the text depends on the probabilities themselves: the tiny random model's
     * greedy text hardly moves with the method.
     */
    @Test
    void perRequestMethodEqualsTheCliMethod() {
        String prompt = "What is attention?";
        String vanilla = null;
        for (String[] m : List.of(new String[]{"vanilla", "--method", "vanilla"},
                new String[]{"moice:r", "--moice", f.routers.toString()},
                new String[]{"moice", "--moice", f.routers.toString()},
                new String[]{"equal", "--method", "equal"})) {
            Map<String, Object> body = ServeFixture.json(f.post(server, "/v1/chat/completions",
                    ServeFixture.chat(prompt, 16, "\"temperature\": 1, \"seed\": 5, \"moice\": {\"method\": \""
                            + m[0] + "\"}")));
            String text = ServeFixture.content(body);
            assertEquals(m[0].startsWith("moice") ? "moice:r" : m[0], Json.object(body.get("moice"), "m").get("method"));
            assertEquals(cliChat(prompt, 16, m[1], m[2], "--temperature", "1", "--seed", "5"), text, m[0]);
            if (m[0].equals("vanilla")) vanilla = text;
            else assertNotEquals(vanilla, text, m[0] + " changes the answer of the tiny model");
        }
    }

    /**
     * With {@code max_tokens: 1} the request runs exactly its prompt (one prefill block; the one generated token is
     * sampled, never fed): its routing counts must equal, number for number, the {@code selected} column of
     * {@code bin/moice forward --moice r --routing-stats} on the prompt's token ids. With more tokens, each layer
     * counts the positions fed (prompt + generated, less the last sampled token when it ran to max_tokens), and every
     * head's counts sum to positions × K.
     */
    @Test
    void routingCountsEqualForwardRoutingStats() throws IOException {
        String prompt = "Where is the key?";
        Map<String, Object> body = ServeFixture.json(f.post(server, "/v1/chat/completions",
                ServeFixture.chat(prompt, 1, "\"moice\": {\"method\": \"moice:r\", \"routing\": true}")));
        Map<String, Object> routing = Json.object(Json.object(body.get("moice"), "moice").get("routing"), "routing");
        int[] ids = f.engine.chatTokens(List.of(moice.api.ChatMessage.user(prompt)));
        Path tokens = tmp.resolve("ids.json"), csv = tmp.resolve("stats.csv");
        Files.writeString(tokens, Json.write(ids));
        moice.cli.CliTest.Run r = ServeFixture.cli("forward", "--model", f.model.toString(), "--tokens", tokens.toString(),
                "--out", tmp.resolve("l.safetensors").toString(), "--moice", f.routers.toString(),
                "--routing-stats", csv.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(csv);
        List<Object> layers = Json.array(routing.get("layers"), "layers");
        assertEquals(2L, routing.get("top_k"));
        int row = 1;
        for (Object lo : layers) {
            Map<String, Object> layer = Json.object(lo, "layer");
            assertEquals((long) ids.length, layer.get("positions"));
            List<Object> heads = Json.array(layer.get("selected"), "selected");
            for (int h = 0; h < heads.size(); h++) {
                List<Object> counts = Json.array(heads.get(h), "head");
                for (int e = 0; e < counts.size(); e++) {
                    String[] cols = lines.get(row++).split(",");
                    assertEquals(layer.get("layer") + "," + h + "," + e, cols[0] + "," + cols[1] + "," + cols[2]);
                    assertEquals(Long.parseLong(cols[5]), counts.get(e), "layer " + cols[0] + " head " + h + " expert " + e);
                }
            }
        }
        assertEquals(lines.size(), row, "every CSV row compared");

        Map<String, Object> longer = ServeFixture.json(f.post(server, "/v1/chat/completions",
                ServeFixture.chat(prompt, 6, "\"moice\": {\"method\": \"moice:r\", \"routing\": true}")));
        long generated = (Long) Json.object(longer.get("usage"), "u").get("completion_tokens");
        Map<String, Object> rl = Json.object(Json.object(longer.get("moice"), "m").get("routing"), "r");
        for (Object lo : Json.array(rl.get("layers"), "layers")) {
            Map<String, Object> layer = Json.object(lo, "layer");
            long positions = (Long) layer.get("positions");
            // length: the last token sampled is not fed; stop (the end-of-sequence token, no stop strings here): every
            // generated token was fed, and the EOS sampled after them is not counted in completion_tokens
            long fed = ids.length + generated - (ServeFixture.finishReason(longer).equals("length") ? 1 : 0);
            assertEquals(fed, positions, "prompt " + ids.length + ", generated " + generated);
            for (Object head : Json.array(layer.get("selected"), "s"))
                assertEquals(positions * 2, Json.array(head, "h").stream().mapToLong(x -> (Long) x).sum());
        }
    }

    /**
     * {@code routing_tokens: true} adds the decisions position by position: counting each position's chosen experts
     * gives back {@code selected} exactly, the tokens are the prompt's and then the generated ones fed back (each
     * token's own text; then as many as were generated and fed back), and each position's weights sum to 1 (rounded to 4 decimals: at most K × 0.5e-4 off).
     */
    @Test
    void routingTokensAddUpToTheCounts() {
        String prompt = "Where is the key?";
        Map<String, Object> body = ServeFixture.json(f.post(server, "/v1/chat/completions",
                ServeFixture.chat(prompt, 5, "\"moice\": {\"method\": \"moice:r\", \"routing_tokens\": true}")));
        Map<String, Object> routing = Json.object(Json.object(body.get("moice"), "moice").get("routing"), "routing");
        int[] ids = f.engine.chatTokens(List.of(moice.api.ChatMessage.user(prompt)));
        assertEquals((long) ids.length, routing.get("prompt_tokens"));
        List<Object> tokens = Json.array(routing.get("tokens"), "tokens");
        for (int p = 0; p < ids.length; p++)
            assertEquals(f.engine.detokenize(new int[]{ids[p]}), tokens.get(p), "token " + p);
        long completion = (Long) Json.object(body.get("usage"), "usage").get("completion_tokens");
        assertEquals(ids.length + completion - (ServeFixture.finishReason(body).equals("length") ? 1 : 0), tokens.size(),
                "the prompt, then the generated tokens fed back");
        int k = (int) (long) (Long) routing.get("top_k");
        int experts = Json.array(routing.get("bases"), "bases").size();
        for (Object lo : Json.array(routing.get("layers"), "layers")) {
            Map<String, Object> layer = Json.object(lo, "layer");
            long positions = (Long) layer.get("positions");
            assertEquals(positions, tokens.size());
            List<Object> selected = Json.array(layer.get("selected"), "selected");
            List<Object> chosen = Json.array(layer.get("experts"), "experts"), weights = Json.array(layer.get("weights"), "w");
            assertEquals(selected.size(), chosen.size());
            for (int h = 0; h < selected.size(); h++) {
                long[] count = new long[experts];
                List<Object> perPosition = Json.array(chosen.get(h), "head");
                assertEquals(positions, perPosition.size());
                for (int p = 0; p < positions; p++) {
                    List<Object> e = Json.array(perPosition.get(p), "position");
                    assertEquals(k, e.size());
                    for (Object x : e) count[(int) (long) (Long) x]++;
                    double sum = 0;
                    for (Object w : Json.array(Json.array(weights.get(h), "h").get(p), "p")) sum += Json.number(w, "w");
                    assertEquals(1.0, sum, k * 0.5e-4 + 1e-12, "layer " + layer.get("layer") + " head " + h + " position " + p);
                }
                List<Object> expected = Json.array(selected.get(h), "head");
                for (int e = 0; e < experts; e++) assertEquals(expected.get(e), count[e], "head " + h + " expert " + e);
            }
        }
    }

    @Test
    void disconnectStopsTheGenerationAndTheServerKeepsServing() throws Exception {
        Server s = f.start(f.options("vanilla"));
        CountDownLatch gone = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicInteger pieces = new java.util.concurrent.atomic.AtomicInteger();
        s.beforePiece = piece -> {
            pieces.incrementAndGet();
            try {
                gone.await(20, TimeUnit.SECONDS); // every piece waits until the client has left
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try {
            String body = "{\"prompt\": \"Count: one two three\", \"max_tokens\": 200, \"stream\": true}";
            ServeFixture.streamThenLeave(s, body);
            gone.countDown();
            // a client gone during the prefill is noticed by the heartbeat; the generation then ends, releases its
            // session and counts the cancel at the failed write of its last event, so both are awaited together
            ServeFixture.await(() -> s.activeGenerations() == 0 && s.cancelledGenerations() == 1,
                    "the generation to stop and be counted as cancelled (" + pieces.get() + " pieces)");
            assertTrue(pieces.get() < 20, pieces.get() + " pieces written after the client left");
            s.beforePiece = piece -> { };
            HttpResponse<String> after = f.post(s, "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 3}");
            assertEquals(200, after.statusCode(), after.body());
            ServeFixture.await(() -> s.activeGenerations() == 0, "no generation left");
        } finally {
            s.stop();
        }
    }

    @Test
    void queueFullIs429WithRetryAfter() throws Exception {
        Server s = f.start(f.options("vanilla").withParallel(1, 1));
        CountDownLatch gate = new CountDownLatch(1);
        s.beforeGeneration = () -> {
            try {
                gate.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try {
            String body = ServeFixture.chat("Hello", 3, "");
            HttpRequest req = HttpRequest.newBuilder(URI.create(s.url() + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
            CompletableFuture<HttpResponse<String>> running = f.client.sendAsync(req, HttpResponse.BodyHandlers.ofString());
            ServeFixture.await(() -> s.activeGenerations() == 1, "the first request to run");
            CompletableFuture<HttpResponse<String>> waiting = f.client.sendAsync(req, HttpResponse.BodyHandlers.ofString());
            ServeFixture.await(() -> s.admittedRequests() == 2, "the second request to queue");
            HttpResponse<String> refused = f.post(s, "/v1/chat/completions", body);
            assertEquals(429, refused.statusCode(), refused.body());
            assertEquals("1", refused.headers().firstValue("Retry-After").orElse(null));
            ServeErrorsTest.assertError(refused, "rate_limit_error", null, "queue_full");
            gate.countDown();
            assertEquals(200, running.get(30, TimeUnit.SECONDS).statusCode());
            assertEquals(200, waiting.get(30, TimeUnit.SECONDS).statusCode());
            assertEquals(ServeFixture.content(ServeFixture.json(running.get())),
                    ServeFixture.content(ServeFixture.json(waiting.get())));
            ServeFixture.await(() -> s.admittedRequests() == 0, "no request left");
        } finally {
            gate.countDown();
            s.stop();
        }
    }

    @Test
    void concurrentRequestsEqualTheirSoloOutput() throws Exception {
        List<String> bodies = new ArrayList<>();
        for (int c = 0; c < 4; c++)
            for (int k = 0; k < 2; k++)
                bodies.add(ServeFixture.chat("Client " + c + " asks question " + k + ".", 8,
                        "\"moice\": {\"method\": \"" + List.of("vanilla", "moice:r", "equal", "vanilla").get(c) + "\"}"));
        List<String> solo = new ArrayList<>();
        for (String b : bodies) solo.add(ServeFixture.content(ServeFixture.json(f.post(server, "/v1/chat/completions", b))));
        List<CompletableFuture<List<String>>> clients = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            int client = c;
            clients.add(CompletableFuture.supplyAsync(() -> {
                List<String> out = new ArrayList<>();
                for (int k = 0; k < 2; k++)
                    out.add(ServeFixture.content(ServeFixture.json(
                            f.post(server, "/v1/chat/completions", bodies.get(client * 2 + k)))));
                return out;
            }));
        }
        for (int c = 0; c < 4; c++) {
            List<String> got = clients.get(c).get(60, TimeUnit.SECONDS);
            for (int k = 0; k < 2; k++) assertEquals(solo.get(c * 2 + k), got.get(k), "client " + c + " request " + k);
        }
        ServeFixture.await(() -> server.activeGenerations() == 0, "no generation left");
    }
}
