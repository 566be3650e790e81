package moice.server;

import moice.api.Engine;
import moice.api.Moice;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.StringJoiner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A streaming client that leaves while its long prompt is still being prefilled stops the prefill: the server's
 * comment lines (written until the first token) find the closed connection, the session is cancelled before its next
 * chunk, and the server goes on serving. On the shipped SmolLM2 (a 2,000-token prompt in chunks of 16 takes seconds
 * on any machine, the detection milliseconds); skipped when it has not been pulled, required in CI.
 */
class ServeDisconnectPrefillTest {
    static final int PROMPT = 2000, CHUNK = 16;

    @Test
    void aClientGoneDuringThePrefillCancelsIt() throws Exception {
        Path file = ModelCache.fromEnvironment().pypiModelFile(PypiModel.SMOLLM2_135M_INSTRUCT);
        if (!Files.isRegularFile(file)) {
            if (System.getenv("MOICE_REQUIRE_SMOLLM2") != null) fail("SmolLM2 GGUF missing at " + file);
            Assumptions.abort("SmolLM2 not pulled (bin/moice pull smollm2-135m-instruct)");
        }
        try (Engine engine = Moice.load(file)) {
            Server s = Server.start(engine, ServerOptions.defaults("smollm2", List.of("vanilla")).withPort(0)
                    .withPrefillChunk(CHUNK));
            s.heartbeatMillis = 20;
            try {
                StringJoiner ids = new StringJoiner(",", "[", "]");
                new Random(1).ints(PROMPT, 100, 40000).forEach(t -> ids.add(Integer.toString(t)));
                String body = "{\"prompt\": " + ids + ", \"max_tokens\": 4, \"stream\": true}";
                // the client leaves as soon as it has the status line: the prefill has just begun
                ServeFixture.streamThenLeave(s, body);
                // the cancel may be counted just after the session is released (see ServeTest's disconnect test)
                ServeFixture.await(() -> s.activeGenerations() == 0 && s.cancelledGenerations() == 1,
                        "the generation to stop and be counted as cancelled");
                long chunks = engine.decodeBatchCounts()[2];
                assertTrue(chunks < PROMPT / CHUNK / 2, chunks + " of " + PROMPT / CHUNK + " chunks ran after the client left");

                HttpResponse<String> after = java.net.http.HttpClient.newHttpClient().send(
                        java.net.http.HttpRequest.newBuilder(java.net.URI.create(s.url() + "/v1/completions"))
                                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                                        "{\"prompt\": \"Hi\", \"max_tokens\": 3}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, after.statusCode(), after.body());
            } finally {
                s.stop();
            }
        }
    }
}
