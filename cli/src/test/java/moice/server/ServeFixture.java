package moice.server;

import moice.api.Engine;
import moice.api.Moice;
import moice.attention.Routers;
import moice.cli.Main;
import moice.cli.TinyChatModel;
import moice.io.Json;
import moice.io.RouterFile;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The tiny chat model, a router file for it, and helpers to call a server and the CLI. */
final class ServeFixture {
    /** Run of the CLI in this JVM. */

    final Path model, routers;
    final Engine engine;
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    ServeFixture(Path dir) throws IOException {
        model = TinyChatModel.write(dir.resolve("tiny"));
        engine = Moice.load(model);
        var c = engine.config();
        double[] bases = {c.ropeTheta(), 1.75 * c.ropeTheta(), 2.5 * c.ropeTheta(), 7 * c.ropeTheta()};
        routers = dir.resolve("r.safetensors");
        // std 0.5 (not the official 0.02): routing decisions clearly apart, so that methods give different text
        RouterFile.write(Routers.random(bases, 2, c.headDim(), c.numLayers(), 0.5, 3), routers);
    }

    Server start(ServerOptions options) {
        return Server.start(engine, options.withPort(0));
    }

    ServerOptions options(String... methods) {
        return ServerOptions.defaults("tiny", List.of(methods));
    }

    /** Runs {@code bin/moice ARGS} in this JVM, capturing stdout and stderr. */
    static moice.cli.CliTest.Run cli(String... args) {
        return moice.cli.CliTest.run(args);
    }

    HttpResponse<String> post(Server s, String path, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.url() + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) b.headers(headers);
        return send(b.build());
    }

    HttpResponse<String> get(Server s, String path, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.url() + path)).timeout(Duration.ofSeconds(60)).GET();
        if (headers.length > 0) b.headers(headers);
        return send(b.build());
    }

    HttpResponse<String> send(HttpRequest r) {
        try {
            return client.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Object> json(HttpResponse<String> r) {
        return Json.object(Json.parse(r.body(), "response"), "response");
    }

    /** A chat request body with one user message. */
    static String chat(String prompt, int maxTokens, String extra) {
        return "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": " + Json.write(prompt)
                + "}], \"max_tokens\": " + maxTokens + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }

    /** The assistant text of a chat completion. */
    static String content(Map<String, Object> response) {
        Map<String, Object> choice = Json.object(Json.array(response.get("choices"), "choices").get(0), "choice");
        return Json.string(Json.object(choice.get("message"), "message").get("content"), "content");
    }

    static String finishReason(Map<String, Object> response) {
        return Json.string(Json.object(Json.array(response.get("choices"), "choices").get(0), "c").get("finish_reason"), "f");
    }

    /**
     * Posts {@code body} (a streamed completion) over a raw socket, reads the status line (200), waits until the
     * generation has started and closes the connection: a client that leaves without reading its answer.
     */
    static void streamThenLeave(Server s, String body) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", s.port())) {
            java.io.OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            socket.setSoTimeout(20_000);
            var in = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    StandardCharsets.UTF_8));
            String status = in.readLine();
            if (status == null || !status.startsWith("HTTP/1.1 200")) throw new AssertionError("status line " + status);
            await(() -> s.activeGenerations() == 1, "the generation to start");
        }
    }

    /** Waits (at most 20 s) until {@code condition} holds. */
    static void await(java.util.function.BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
