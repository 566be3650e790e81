package moice.server;

import moice.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The web page at {@code /} in a real browser: headless Chromium (Debian's {@code chromium}; skipped with a message
 * where it is missing, unless {@code MOICE_REQUIRE_CHROMIUM=1}, which {@code .ci/run} sets after installing it) loads
 * the page from the server, a prompt is typed and sent with Enter, and the test waits for the streamed answer and the
 * routing view. What the page shows is checked against the server's own API: the answer equals the non-streamed
 * completion of the same conversation and method, the per-layer expert shares equal the routing counts, the heat map
 * has one column per token fed and one row per layer and head, and hovering a cell names its token and the bases the
 * router chose there. Then a second turn, and "compare" with two methods side by side. The page is kept as
 * {@code target/serve-web.png}.
 */
class ServeWebTest {
    @TempDir
    static Path tmp;
    static ServeFixture f;
    static Server server;

    @BeforeAll
    static void start() throws IOException {
        f = new ServeFixture(tmp);
        server = f.start(f.options("vanilla", "moice:" + f.routers, "ab", "mspoe").withParallel(2, 8));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.stop();
        if (f != null) f.engine.close();
    }

    @Test
    void staticFilesAreServedAndNothingElse() {
        HttpResponse<String> page = f.get(server, "/");
        assertEquals(200, page.statusCode());
        assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
        assertTrue(page.body().contains("<script src=\"app.js\""), "the page loads its script from this server");
        assertFalse(page.body().contains("http://") || page.body().contains("https://"), "nothing from elsewhere");
        assertEquals(200, f.get(server, "/app.js").statusCode());
        assertEquals(200, f.get(server, "/style.css").statusCode());
        for (String bad : List.of("/../pom.xml", "/web/app.js", "/moice/server/web/index.html", "/Server.class"))
            assertEquals(404, f.get(server, bad).statusCode(), bad);
        assertEquals(405, f.post(server, "/", "{}").statusCode());
    }

    /** The conversation the page sends, answered by the API without streaming (greedy, so the same text). */
    static Map<String, Object> apiAnswer(List<Map<String, String>> messages, String method, int maxTokens,
                                         boolean routing) {
        String body = "{\"model\": \"tiny\", \"messages\": " + Json.write(messages) + ", \"max_tokens\": " + maxTokens
                + ", \"moice\": {\"method\": \"" + method + "\"" + (routing ? ", \"routing_tokens\": true" : "") + "}}";
        HttpResponse<String> r = f.post(server, "/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        return ServeFixture.json(r);
    }

    @Test
    @SuppressWarnings("unchecked")
    void chatCompareAndRoutingViewInHeadlessChromium() throws Exception {
        Optional<Path> exe = Chromium.find();
        boolean required = "1".equals(System.getenv("MOICE_REQUIRE_CHROMIUM"));
        if (required) assertTrue(exe.isPresent(), "MOICE_REQUIRE_CHROMIUM=1 but chromium is not on the PATH");
        assumeTrue(exe.isPresent(), "chromium is not installed (apt-get install chromium; .ci/run installs it): "
                + "the browser test of the web page is skipped");
        int maxTokens = 12;
        try (Chromium b = new Chromium(exe.get(), tmp.resolve("profile"), 1280, 900)) {
            b.navigate(server.url() + "/");
            b.await("document.body.dataset.ready === 'true'", 30);
            assertEquals(List.of("vanilla", "moice:r", "ab", "mspoe"),
                    b.eval("[...document.querySelectorAll('#method-a option')].map(o => o.value)"));
            b.eval("document.getElementById('method-a').value = 'moice:r';"
                    + "document.getElementById('method-a').dispatchEvent(new Event('change'));"
                    + "document.getElementById('max-tokens').value = '" + maxTokens + "'; true");

            // turn 1: typed, sent with Enter, streamed; routing view for moice:r
            String prompt = "Where did I leave the key?";
            send(b, prompt);
            b.await("document.querySelectorAll('#pane-a .msg.assistant[data-done=true]').length === 1", 60);
            b.await("document.getElementById('routing').dataset.ready === 'true'", 30);
            List<Map<String, String>> conv = new ArrayList<>(List.of(Map.of("role", "user", "content", prompt)));
            Map<String, Object> expected = apiAnswer(conv, "moice:r", maxTokens, true);
            String answer = ServeFixture.content(expected);
            assertEquals(shown(answer), b.eval("document.querySelector('#pane-a .msg.assistant .text').textContent"));
            checkRoutingView(b, Json.object(Json.object(expected.get("moice"), "moice").get("routing"), "routing"));

            // turn 2: the page sends the whole conversation
            conv.add(Map.of("role", "assistant", "content", answer));
            conv.add(Map.of("role", "user", "content", "And then?"));
            send(b, "And then?");
            b.await("document.querySelectorAll('#pane-a .msg.assistant[data-done=true]').length === 2", 60);
            assertEquals(shown(ServeFixture.content(apiAnswer(conv, "moice:r", maxTokens, false))),
                    b.eval("document.querySelectorAll('#pane-a .msg.assistant .text')[1].textContent"));

            // compare: a new chat, one prompt to moice:r (left) and ab (right)
            b.eval("document.getElementById('reset').click();"
                    + "document.getElementById('compare').click();"
                    + "document.getElementById('method-b').value = 'ab';"
                    + "document.getElementById('method-b').dispatchEvent(new Event('change')); true");
            assertEquals(true, b.eval("!document.getElementById('pane-b').hidden"));
            String question = "Compare these: what is a rope?";
            send(b, question);
            b.await("document.querySelectorAll('.pane .msg.assistant[data-done=true]').length === 2", 90);
            b.await("document.getElementById('routing').dataset.ready === 'true'", 30);
            List<Map<String, String>> one = List.of(Map.of("role", "user", "content", question));
            Map<String, Object> left = apiAnswer(one, "moice:r", maxTokens, true);
            assertEquals(shown(ServeFixture.content(left)),
                    b.eval("document.querySelector('#pane-a .msg.assistant .text').textContent"));
            assertEquals(shown(ServeFixture.content(apiAnswer(one, "ab", maxTokens, false))),
                    b.eval("document.querySelector('#pane-b .msg.assistant .text').textContent"));
            assertEquals(List.of("moice:r", "ab"), b.eval(
                    "[...document.querySelectorAll('.pane .msg.assistant')].map(m => m.dataset.method)"));
            checkRoutingView(b, Json.object(Json.object(left.get("moice"), "moice").get("routing"), "routing"));

            // the screenshot shows a hovered cell: layer 1, head 0, token 3
            List<Object> box = (List<Object>) b.eval("(() => { const c = document.getElementById('heatmap');"
                    + "const r = c.getBoundingClientRect(); return [r.left, r.top, r.height / c.dataset.rows]; })()");
            int heads = f.engine.config().numHeads();
            b.mouseMove(Json.number(box.get(0), "x") + 44 + 3.5 * cellWidth(b),
                    Json.number(box.get(1), "y") + (heads + 0.5) * Json.number(box.get(2), "h") + 2);
            b.await("!document.getElementById('tip').hidden", 10);
            Path png = Path.of("target", "serve-web.png");
            b.screenshot(png);
            assertTrue(Files.size(png) > 10_000, "a screenshot of the page in " + png.toAbsolutePath());
        }
    }

    /** The page shows an answer without the line breaks it starts with. */
    static String shown(String answer) {
        return answer.replaceFirst("^\n+", "");
    }

    private static void send(Chromium b, String text) {
        b.eval("document.getElementById('prompt').focus(); true");
        b.type(text);
        b.pressEnter();
    }

    /** The width of a heat-map cell in CSS pixels. */
    static double cellWidth(Chromium b) {
        return Json.number(b.eval("(() => { const c = document.getElementById('heatmap');"
                + "return (c.getBoundingClientRect().width - 44) / c.dataset.tokens; })()"), "cell width");
    }

    /** The shares, the heat map's size and one hovered cell, against the API's routing of the same request. */
    @SuppressWarnings("unchecked")
    private static void checkRoutingView(Chromium b, Map<String, Object> routing) {
        List<Object> layers = Json.array(routing.get("layers"), "layers");
        List<Object> tokens = Json.array(routing.get("tokens"), "tokens");
        long topK = (Long) routing.get("top_k");
        List<Object> bases = Json.array(routing.get("bases"), "bases");
        // per-layer expert shares: counts over heads / (positions × heads × K)
        List<Object> shown = (List<Object>) b.eval("[...document.querySelectorAll('#shares .layer')].map(l => "
                + "[...l.querySelectorAll('.seg')].map(s => parseFloat(s.dataset.share)))");
        assertEquals(layers.size(), shown.size());
        for (int l = 0; l < layers.size(); l++) {
            Map<String, Object> layer = Json.object(layers.get(l), "layer");
            List<Object> heads = Json.array(layer.get("selected"), "selected");
            long positions = (Long) layer.get("positions");
            List<Object> row = (List<Object>) shown.get(l);
            assertEquals(bases.size(), row.size());
            for (int e = 0; e < bases.size(); e++) {
                long sum = 0;
                for (Object h : heads) sum += (Long) Json.array(h, "head").get(e);
                double share = sum / (double) (positions * heads.size() * topK);
                assertEquals(share, Json.number(row.get(e), "share"), 5e-7, "layer " + l + " expert " + e);
            }
        }
        // the heat map: a column per token fed, a row per layer and head
        int heads = Json.array(Json.object(layers.get(0), "l").get("selected"), "s").size();
        assertEquals(String.valueOf(tokens.size()), b.eval("document.getElementById('heatmap').dataset.tokens"));
        assertEquals(String.valueOf(layers.size() * heads), b.eval("document.getElementById('heatmap').dataset.rows"));
        // hover: one layer shown, head 1, token 2 (one row of 18 px per head, 44 px of labels, cells of cellW px)
        b.eval("document.getElementById('routing-layer').value = '1';"
                + "document.getElementById('routing-layer').dispatchEvent(new Event('change')); true");
        List<Object> box = (List<Object>) b.eval("(() => { const c = document.getElementById('heatmap');"
                + "c.scrollIntoView(); const r = c.getBoundingClientRect(); return [r.left, r.top, r.width]; })()");
        double cellW = (Json.number(box.get(2), "w") - 44) / tokens.size();
        int position = 2, head = 1;
        b.mouseMove(Json.number(box.get(0), "x") + 44 + (position + 0.5) * cellW, Json.number(box.get(1), "y") + head * 18 + 9);
        b.await("!document.getElementById('tip').hidden", 10);
        String tip = (String) b.eval("document.getElementById('tip').textContent");
        Map<String, Object> layer1 = Json.object(layers.get(1), "layer");
        List<Object> chosen = Json.array(Json.array(Json.array(layer1.get("experts"), "e").get(head), "h").get(position), "p");
        String token = Json.write(tokens.get(position));
        assertTrue(tip.contains(token.substring(1, token.length() - 1)), tip + " names token " + token);
        assertTrue(tip.contains("token " + position + " ") && tip.contains("layer 1 head " + head), tip);
        assertEquals(topK, tip.split("base ").length - 1, tip);
        for (Object e : chosen) {
            double base = Json.number(bases.get((int) (long) (Long) e), "base");
            assertTrue(tip.contains("base " + (String) b.eval("fmtBase(" + base + ")")), tip + " names base " + base);
        }
        b.eval("document.getElementById('routing-layer').value = 'all';"
                + "document.getElementById('routing-layer').dispatchEvent(new Event('change')); true");
    }
}
