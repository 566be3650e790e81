package moice.server;

import moice.api.Engine;
import moice.api.Moice;
import moice.attention.Routers;
import moice.cli.TinyChatModel;
import moice.io.Json;
import moice.io.RouterFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Chunked prefill ({@code --prefill-chunk}): while a long prompt is prefilled in chunks between the decode batches, a
 * short stream that is already decoding keeps receiving tokens (it gets tokens after the long request was sent and
 * before that request's first token), and every answer equals the one of a server that prefills each prompt in one
 * piece (greedy; the logits agree within rounding, see {@code moice.api.ChunkedPrefillTest}). Ms-PoE prefills whole.
 */
class ServeChunkedPrefillTest {
    static final int CHUNK = 64, LONG = 1800;
    @TempDir
    static Path tmp;
    static Engine engine;
    static Server chunked, oneShot;
    static final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() throws IOException {
        // 4 layers (Ms-PoE changes layers 2 and up) and a 2048-position context for a long prompt
        engine = Moice.load(TinyChatModel.write(tmp.resolve("long"), 4, 2048));
        var c = engine.config();
        Path r = tmp.resolve("r.safetensors");
        RouterFile.write(Routers.random(new double[]{c.ropeTheta(), 3 * c.ropeTheta(), 8 * c.ropeTheta()}, 2,
                c.headDim(), c.numLayers(), 0.5, 5), r);
        List<String> methods = List.of("vanilla", "moice:" + r, "mspoe");
        chunked = Server.start(engine, ServerOptions.defaults("tiny", methods).withPort(0).withParallel(2, 4)
                .withPrefillChunk(CHUNK));
        oneShot = Server.start(engine, ServerOptions.defaults("tiny", methods).withPort(0).withParallel(2, 4)
                .withPrefillChunk(0));
    }

    @AfterAll
    static void stop() {
        if (chunked != null) chunked.stop();
        if (oneShot != null) oneShot.stop();
        if (engine != null) engine.close();
    }

    static int[] ids(long seed, int n) {
        Random rnd = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + rnd.nextInt(1400);
        return t;
    }

    static String body(int[] prompt, int maxTokens, String method, boolean stream) {
        List<Object> p = new ArrayList<>();
        for (int t : prompt) p.add((long) t);
        return "{\"prompt\": " + Json.write(p) + ", \"max_tokens\": " + maxTokens + ", \"moice\": {\"method\": \""
                + method + "\"}" + (stream ? ", \"stream\": true" : "") + "}";
    }

    static HttpRequest post(Server s, String body) {
        return HttpRequest.newBuilder(URI.create(s.url() + "/v1/completions")).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    static String text(Server s, String body) throws Exception {
        HttpResponse<String> r = client.send(post(s, body), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> choice = Json.object(Json.array(ServeFixture.json(r).get("choices"), "c").get(0), "c");
        return Json.string(choice.get("text"), "text");
    }

    /** A streamed piece of text and when it arrived. */
    record Piece(long nanos, String text) {}

    /** Streams {@code body}, recording each non-empty text piece as it arrives; {@code first} counts down at the first. */
    static List<Piece> stream(Server s, String body, CountDownLatch first) throws Exception {
        HttpResponse<java.util.stream.Stream<String>> r = client.send(post(s, body), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        List<Piece> pieces = new ArrayList<>();
        r.body().forEach(line -> {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) return;
            long at = System.nanoTime();
            Map<String, Object> chunk = Json.object(Json.parse(line.substring(6), "chunk"), "chunk");
            for (Object c : Json.array(chunk.get("choices"), "choices")) {
                String t = (String) Json.object(c, "c").get("text");
                if (t != null && !t.isEmpty()) {
                    pieces.add(new Piece(at, t));
                    first.countDown();
                }
            }
        });
        return pieces;
    }

    static String join(List<Piece> pieces) {
        StringBuilder b = new StringBuilder();
        for (Piece p : pieces) b.append(p.text());
        return b.toString();
    }

    @Test
    void aShortStreamKeepsGettingTokensWhileALongPromptIsPrefilled() throws Exception {
        int[] shortPrompt = ids(1, 10), longPrompt = ids(2, LONG);
        String shortBody = body(shortPrompt, 300, "vanilla", true), longBody = body(longPrompt, 8, "vanilla", true);
        String shortSolo = text(oneShot, body(shortPrompt, 300, "vanilla", false));
        String longSolo = text(oneShot, body(longPrompt, 8, "vanilla", false));
        // a millisecond per streamed piece: the short stream outlasts the long prefill on any machine speed
        chunked.beforePiece = s -> {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch shortStarted = new CountDownLatch(1), longStarted = new CountDownLatch(1);
            Future<List<Piece>> shortStream = pool.submit(() -> stream(chunked, shortBody, shortStarted));
            assertTrue(shortStarted.await(60, TimeUnit.SECONDS), "the short stream's first token");
            long chunksBefore = engine.decodeBatchCounts()[2];
            long sent = System.nanoTime();
            Future<List<Piece>> longStream = pool.submit(() -> stream(chunked, longBody, longStarted));
            List<Piece> longPieces = longStream.get(120, TimeUnit.SECONDS), shortPieces = shortStream.get(120, TimeUnit.SECONDS);
            long longFirst = longPieces.getFirst().nanos();
            long during = shortPieces.stream().filter(p -> p.nanos() > sent && p.nanos() < longFirst).count();
            long chunks = engine.decodeBatchCounts()[2] - chunksBefore;
            System.out.printf("ServeChunkedPrefillTest: %d prompt chunks; the short stream got %d pieces between the "
                    + "long request (%d tokens) and its first token (%.1f ms)%n", chunks, during, LONG,
                    (longFirst - sent) / 1e6);
            assertTrue(chunks >= (LONG + CHUNK - 1) / CHUNK, chunks + " chunks");
            assertTrue(during >= 2, "the short stream kept receiving tokens during the long prefill: " + during);
            assertEquals(shortSolo, join(shortPieces), "the short answer");
            assertEquals(longSolo, join(longPieces), "the long answer");
        } finally {
            chunked.beforePiece = s -> { };
        }
    }

    @Test
    void chunkedAnswersEqualOneShotPrefill() throws Exception {
        int[] prompt = ids(3, LONG);
        for (String method : List.of("vanilla", "moice:r", "mspoe")) {
            long before = engine.decodeBatchCounts()[2];
            String got = text(chunked, body(prompt, 16, method, false));
            long chunks = engine.decodeBatchCounts()[2] - before;
            assertEquals(method.equals("mspoe") ? 1 : (LONG + CHUNK - 1) / CHUNK, chunks,
                    method + ": prompt chunks (Ms-PoE prefills whole)");
            assertEquals(text(oneShot, body(prompt, 16, method, false)), got, method);
        }
    }
}
