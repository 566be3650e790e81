package moice.server;

import moice.cli.TinyChatModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/moice serve} as its own JVM: it prints where it listens, answers, and on SIGTERM
 * ({@link Process#destroy()}) stops accepting, lets the streaming request in flight finish (its last line is
 * {@code data: [DONE]}) and exits with 0.
 */
class ServeProcessTest {
    @TempDir
    Path tmp;

    @Test
    void sigtermDrainsTheRequestInFlightAndExitsZero() throws Exception {
        Path model = TinyChatModel.write(tmp.resolve("tiny"), 2, 4096);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), "moice.cli.Main", "serve", "--model", model.toString(),
                "--port", "0", "--drain-seconds", "20"));
        Path log = tmp.resolve("serve.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            int port = -1;
            long deadline = System.nanoTime() + 60_000_000_000L;
            Pattern listening = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");
            while (port < 0) {
                assertTrue(System.nanoTime() < deadline && p.isAlive(), "server did not start: " + Files.readString(log));
                Matcher m = listening.matcher(Files.readString(log));
                if (m.find()) port = Integer.parseInt(m.group(1));
                else Thread.sleep(50);
            }
            HttpClient client = HttpClient.newHttpClient();
            HttpResponse<String> health = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/health")).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());

            // the tiny model repeats itself on this prompt rather than ending: a long generation
            String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"Why is the sky blue?\"}], "
                    + "\"max_tokens\": 3000, \"stream\": true}";
            HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                            + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            List<String> lines = new ArrayList<>();
            int afterTerm = 0;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String first = in.readLine(); // the first token is out: the generation is running
                assertTrue(first != null && first.startsWith("data: "), String.valueOf(first));
                p.destroy(); // SIGTERM
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data: ")) afterTerm++;
                    lines.add(line);
                }
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "exited");
            String out = Files.readString(log);
            assertEquals(0, p.exitValue(), out);
            assertTrue(lines.contains("data: [DONE]"), "the request in flight finished; " + afterTerm
                    + " events after SIGTERM; log: " + out);
            assertTrue(out.contains("moice serve: stopping; 1 request(s) in flight"), lines.size() + " lines; " + out);
            assertTrue(out.contains("moice serve: stopped\n") || out.contains("moice serve: stopped\r"), out);
        } finally {
            if (p.isAlive()) p.destroyForcibly();
        }
    }
}
