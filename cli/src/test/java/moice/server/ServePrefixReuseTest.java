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
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prefix reuse: the next turn of a conversation runs only what the cached sequence of the earlier turn does not hold.
 * Two servers on one engine, one reusing prefixes (the default) and one not: every turn's answer is the same on both
 * (greedy), its routing counts too, and on the reusing one {@code usage.prompt_tokens_details.cached_tokens} (prompt
 * tokens not recomputed) covers at least the earlier turn's whole prompt, while the other recomputes everything.
 */
class ServePrefixReuseTest {
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server reusing, fresh;

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        reusing = f.start(f.options("vanilla", "moice:" + f.routers));
        fresh = f.start(f.options("vanilla", "moice:" + f.routers).withPrefixReuse(false));
    }

    @AfterAll
    static void stop() {
        if (reusing != null) reusing.stop();
        if (fresh != null) fresh.stop();
        if (f != null) f.engine.close();
    }

    static Map<String, Object> ask(Server s, List<Map<String, String>> messages, String method, boolean stream) {
        String body = "{\"messages\": " + Json.write(messages) + ", \"max_tokens\": 10, \"moice\": {\"method\": \""
                + method + "\"" + (method.startsWith("moice") ? ", \"routing\": true" : "") + "}"
                + (stream ? ", \"stream\": true, \"stream_options\": {\"include_usage\": true}" : "") + "}";
        var r = f.post(s, "/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        if (!stream) return ServeFixture.json(r);
        // streamed: join the text, keep the usage chunk (cached tokens are reported there too)
        StringBuilder text = new StringBuilder();
        Map<String, Object> usage = null;
        for (String d : ServeTest.dataLines(r.body())) {
            if (d.equals("[DONE]")) continue;
            Map<String, Object> chunk = Json.object(Json.parse(d, "chunk"), "chunk");
            if (chunk.get("usage") != null) usage = Json.object(chunk.get("usage"), "usage");
            for (Object c : Json.array(chunk.get("choices"), "choices")) {
                Object content = Json.object(Json.object(c, "c").get("delta"), "delta").get("content");
                if (content != null) text.append((String) content);
            }
        }
        return Map.of("choices", List.of(Map.of("message", Map.of("content", text.toString()))), "usage", usage);
    }

    static long cached(Map<String, Object> response) {
        return (Long) Json.object(Json.object(response.get("usage"), "usage").get("prompt_tokens_details"), "d")
                .get("cached_tokens");
    }

    @Test
    void followUpTurnsReuseTheCacheAndAnswerTheSame() {
        for (String method : List.of("vanilla", "moice:r")) {
            List<Map<String, String>> conv = new ArrayList<>();
            int previousPrompt = 0;
            for (int turn = 0; turn < 4; turn++) {
                conv.add(Map.of("role", "user", "content", "Turn " + turn + ": tell me more about " + method + "."));
                boolean stream = turn == 2;
                Map<String, Object> a = ask(reusing, conv, method, stream), b = ask(fresh, conv, method, stream);
                String text = ServeFixture.content(a);
                assertEquals(ServeFixture.content(b), text, method + " turn " + turn);
                assertEquals(0, cached(b), "the server without reuse recomputes every prompt token");
                long prompt = (Long) Json.object(a.get("usage"), "u").get("prompt_tokens");
                if (turn > 0)
                    assertTrue(cached(a) >= previousPrompt && cached(a) < prompt, method + " turn " + turn + ": "
                            + cached(a) + " cached of " + prompt + ", the previous prompt had " + previousPrompt);
                if (!stream && method.startsWith("moice"))
                    assertEquals(Json.object(a.get("moice"), "m").get("routing"), Json.object(b.get("moice"), "m").get("routing"),
                            method + " turn " + turn + ": the routing counts of the whole sequence");
                previousPrompt = (int) prompt;
                conv.add(Map.of("role", "assistant", "content", text));
            }
        }
    }

    /** A prompt unrelated to the last one shares only the chat template's opening: little or nothing is reused. */
    @Test
    void anUnrelatedPromptReusesOnlyWhatItShares() {
        List<Map<String, String>> one = List.of(Map.of("role", "user", "content", "Alpha beta gamma."));
        List<Map<String, String>> other = List.of(Map.of("role", "user", "content", "Zeta eta theta iota."));
        ask(reusing, one, "vanilla", false);
        Map<String, Object> a = ask(reusing, other, "vanilla", false);
        int[] x = f.engine.chatTokens(List.of(moice.api.ChatMessage.user("Alpha beta gamma."))),
                y = f.engine.chatTokens(List.of(moice.api.ChatMessage.user("Zeta eta theta iota.")));
        int shared = 0;
        while (shared < Math.min(x.length, y.length) && x[shared] == y[shared]) shared++;
        assertEquals(shared, cached(a), "exactly the tokens both prompts start with");
        assertEquals(ServeFixture.content(ask(fresh, other, "vanilla", false)), ServeFixture.content(a));
    }
}
