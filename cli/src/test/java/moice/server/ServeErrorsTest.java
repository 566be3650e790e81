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
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every refusal of {@code bin/moice serve}: its status and its OpenAI error object. */
class ServeErrorsTest {
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server server; // context 160, body cap 2048 bytes, methods vanilla + equal

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        server = f.start(f.options("vanilla", "equal").withContext(160).withMaxBody(2048).withDrainSeconds(2));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.stop();
        if (f != null) f.engine.close();
    }

    /** The body is {@code {"error": {"message", "type", "param", "code"}}} with these values and a message. */
    static void assertError(HttpResponse<String> r, String type, String param, String code) {
        Map<String, Object> body = ServeFixture.json(r);
        assertEquals(1, body.size(), r.body());
        Map<String, Object> e = Json.object(body.get("error"), "error");
        assertEquals(java.util.Set.of("message", "type", "param", "code"), e.keySet(), r.body());
        assertTrue(e.get("message") instanceof String m && !m.isBlank(), r.body());
        assertEquals(type, e.get("type"), r.body());
        assertEquals(param, e.get("param"), r.body());
        assertEquals(code, e.get("code"), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
    }

    void chatError(String body, int status, String param, String code) {
        HttpResponse<String> r = f.post(server, "/v1/chat/completions", body);
        assertEquals(status, r.statusCode(), body + " -> " + r.body());
        assertError(r, "invalid_request_error", param, code);
    }

    @Test
    void malformedJsonIs400() {
        chatError("{\"messages\": [", 400, null, "invalid_json");
        chatError("{\"a\": 1, \"a\": 2}", 400, null, "invalid_json"); // strict: duplicate key
        chatError("[1, 2]", 400, null, "invalid_request");
        HttpResponse<String> r = f.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[]{'{', '"', (byte) 0xff, '"', '}'})).build());
        assertEquals(400, r.statusCode());
        assertError(r, "invalid_request_error", null, "invalid_json");
    }

    @Test
    void missingOrInvalidFieldsAre400NamingTheField() {
        chatError("{}", 400, "messages", "missing_field");
        chatError("{\"messages\": \"hi\"}", 400, "messages", "invalid_type");
        chatError("{\"messages\": []}", 400, "messages", "invalid_value");
        chatError("{\"messages\": [{\"content\": \"hi\"}]}", 400, "messages[0].role", "missing_field");
        chatError("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content", "invalid_type");
        chatError(ServeFixture.chat("hi", 0, ""), 400, "max_tokens", "invalid_value");
        chatError(ServeFixture.chat("hi", 4, "\"max_completion_tokens\": \"many\""), 400, "max_completion_tokens",
                "invalid_type");
        chatError(ServeFixture.chat("hi", 4, "\"temperature\": -1"), 400, "temperature", "invalid_value");
        chatError(ServeFixture.chat("hi", 4, "\"top_p\": 0"), 400, "top_p", "invalid_value");
        chatError(ServeFixture.chat("hi", 4, "\"seed\": 1.5"), 400, "seed", "invalid_type");
        chatError(ServeFixture.chat("hi", 4, "\"stop\": 7"), 400, "stop", "invalid_type");
        chatError(ServeFixture.chat("hi", 4, "\"stop\": [\"a\", 1]"), 400, "stop[1]", "invalid_type");
        chatError(ServeFixture.chat("hi", 4, "\"stream\": \"yes\""), 400, "stream", "invalid_type");
        chatError(ServeFixture.chat("hi", 4, "\"n\": 2"), 400, "n", "unsupported_value");
        chatError(ServeFixture.chat("hi", 4, "\"moice\": {\"method\": 3}"), 400, "moice.method", "invalid_type");
        chatError(ServeFixture.chat("hi", 4, "\"moice\": {\"routers\": \"x\"}"), 400, "moice.routers", "unknown_field");
        HttpResponse<String> r = f.post(server, "/v1/completions", "{\"max_tokens\": 3}");
        assertEquals(400, r.statusCode());
        assertError(r, "invalid_request_error", "prompt", "missing_field");
        // JSON nulls are absent fields (clients send them), so this one is fine
        HttpResponse<String> nulls = f.post(server, "/v1/chat/completions",
                ServeFixture.chat("hi", 2, "\"stop\": null, \"temperature\": null, \"moice\": null"));
        assertEquals(200, nulls.statusCode(), nulls.body());
    }

    @Test
    void unknownMethodIs400AndUnknownModel404() {
        chatError(ServeFixture.chat("hi", 4, "\"moice\": {\"method\": \"mspoe\"}"), 400, "moice.method", "unknown_method");
        chatError(ServeFixture.chat("hi", 4, "\"moice\": {\"method\": \"nonsense\"}"), 400, "moice.method", "unknown_method");
        chatError(ServeFixture.chat("hi", 4, "\"moice\": {\"method\": \"vanilla\", \"routing\": true}"), 400,
                "moice.routing", "routing_unavailable");
        chatError("{\"model\": \"gpt-4\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", 404, "model",
                "model_not_found");
        HttpResponse<String> upper = f.post(server, "/v1/chat/completions",
                ServeFixture.chat("hi", 2, "\"moice\": {\"method\": \"EQUAL\"}"));
        assertEquals(200, upper.statusCode(), upper.body());
    }

    @Test
    void promptPlusMaxTokensOverTheContextIs400() {
        chatError(ServeFixture.chat("hi", 155, ""), 400, "max_tokens", "context_length_exceeded");
        chatError("{\"messages\": [{\"role\": \"user\", \"content\": " + Json.write("word ".repeat(300)) + "}]}", 400,
                "messages", "context_length_exceeded");
        // without max_tokens the rest of the context is the limit: finish_reason length
        Map<String, Object> ok = ServeFixture.json(f.post(server, "/v1/completions", "{\"prompt\": \"a b\"}"));
        long total = (Long) Json.object(ok.get("usage"), "u").get("total_tokens");
        assertTrue(total <= 160, "total " + total);
    }

    @Test
    void bodyOverTheCapIs413() {
        String big = ServeFixture.chat("x".repeat(4000), 2, "");
        HttpResponse<String> r = f.post(server, "/v1/chat/completions", big);
        assertEquals(413, r.statusCode());
        assertError(r, "invalid_request_error", null, "request_too_large");
    }

    @Test
    void wrongMethodIs405AndUnknownPath404() {
        HttpResponse<String> r = f.get(server, "/v1/chat/completions");
        assertEquals(405, r.statusCode());
        assertEquals("POST", r.headers().firstValue("Allow").orElse(null));
        assertError(r, "invalid_request_error", null, "method_not_allowed");
        r = f.post(server, "/health", "{}");
        assertEquals(405, r.statusCode());
        assertError(r, "invalid_request_error", null, "method_not_allowed");
        r = f.get(server, "/v2/nothing");
        assertEquals(404, r.statusCode());
        assertError(r, "invalid_request_error", null, "not_found");
    }

    @Test
    void apiKeyIsRequiredExceptForHealth() {
        Server s = f.start(f.options("vanilla").withApiKey("sekrit"));
        try {
            String body = ServeFixture.chat("hi", 2, "");
            HttpResponse<String> none = f.post(s, "/v1/chat/completions", body);
            assertEquals(401, none.statusCode());
            assertError(none, "invalid_request_error", null, "invalid_api_key");
            assertNotNull(none.headers().firstValue("WWW-Authenticate").orElse(null));
            HttpResponse<String> wrong = f.post(s, "/v1/chat/completions", body, "Authorization", "Bearer sekrix");
            assertEquals(401, wrong.statusCode());
            assertError(wrong, "invalid_request_error", null, "invalid_api_key");
            assertEquals(401, f.get(s, "/v1/models").statusCode());
            assertEquals(200, f.get(s, "/v1/models", "Authorization", "Bearer sekrit").statusCode());
            assertEquals(200, f.post(s, "/v1/chat/completions", body, "Authorization", "Bearer sekrit").statusCode());
            assertEquals(200, f.get(s, "/health").statusCode());
        } finally {
            s.stop();
        }
    }

    @Test
    void serveFlagErrors() {
        moice.cli.CliTest.Run r = ServeFixture.cli("serve", "--model", f.model.toString(), "--parallel", "0");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("parallel must be at least 1"), r.err());
        r = ServeFixture.cli("serve", "--model", f.model.toString(), "--method", "bogus", "--port", "0");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("unknown attention method 'bogus'"), r.err());
        r = ServeFixture.cli("serve", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("--max-queue") && r.out().contains("--api-key"), r.out());
    }

    /** What one raw request (bytes as given) gets back: the status line, or "" when the server closed without one. */
    static String rawStatus(Server s, String request) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", s.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            byte[] head = socket.getInputStream().readNBytes(12);
            return new String(head, java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * A chunked body the JDK's decoder cannot read is the client's error: 400, not 500. A chunk size past 2^31 makes
     * the decoder throw IndexOutOfBoundsException, which the soak test found answered as 500.
     */
    @Test
    void malformedChunkedBodyIs400() throws IOException {
        for (String chunks : java.util.List.of("FFFFFFFFFFFF\r\n{}\r\n", "zz\r\n{}\r\n0\r\n\r\n", "5\r\n{\"a\":1}\r\n0\r\n\r\n"))
            assertEquals("HTTP/1.1 400", rawStatus(server, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n" + chunks), chunks);
        assertEquals(200, f.get(server, "/health").statusCode());
    }

    /**
     * A slow client (half a request sent, then silence) holds its own connection only: other requests are answered
     * meanwhile, and when it hangs up (with a TCP reset) nothing of it is left running.
     */
    @Test
    void aSlowClientDoesNotHoldUpOthers() throws Exception {
        String body = ServeFixture.chat("Hello", 3, "");
        try (java.net.Socket slow = new java.net.Socket("127.0.0.1", server.port())) {
            slow.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    + body.length() + "\r\n\r\n" + body.substring(0, body.length() / 2))
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            slow.getOutputStream().flush();
            long t = System.nanoTime();
            for (int i = 0; i < 3; i++)
                assertEquals(200, f.post(server, "/v1/chat/completions", body).statusCode());
            assertTrue(System.nanoTime() - t < 20_000_000_000L, "answered while the slow client waits");
            slow.setSoLinger(true, 0);
        }
        ServeFixture.await(() -> server.admittedRequests() == 0 && server.activeGenerations() == 0, "nothing left");
        assertEquals(200, f.get(server, "/health").statusCode());
    }
}
