package moice.cli;

import moice.io.Json;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code forward --moice R --routing-stats FILE.csv}: counts and mean weights against the fixture's routing.json. */
class RoutingStatsCliTest {
    static final Path RESOURCES = Path.of("src/test/resources");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-mqa", "llama-gqa-k7"})
    void statsMatchRoutingJson(String name) throws IOException {
        Path fixture = RESOURCES.resolve("moice").resolve(name);
        Map<String, Object> ref = Json.object(Json.parseFile(fixture.resolve("reference.json")), "reference.json");
        Path csv = tmp.resolve("stats.csv");
        CliTest.Run r = CliTest.run("forward", "--model", RESOURCES.resolve(Json.string(ref.get("model"), "model")).toString(),
                "--tokens", fixture.resolve("tokens.json").toString(), "--out", tmp.resolve("l.safetensors").toString(),
                "--moice", fixture.resolve("routers.safetensors").toString(), "--routing-stats", csv.toString());
        assertEquals(0, r.code(), r.err());

        Map<String, Object> routing = Json.object(Json.parseFile(fixture.resolve("routing.json")), "routing.json");
        List<Object> bases = Json.array(routing.get("bases"), "bases");
        int n = bases.size();
        List<Object> layers = Json.array(routing.get("layers"), "layers");
        List<String> lines = Files.readAllLines(csv);
        assertEquals("layer,head,expert,base,positions,selected,selected_fraction,mean_weight,mean_weight_when_selected",
                lines.get(0));
        // every weight within the softmax bound of router logits off by the forward-pass bound (relative to the
        // largest |z|); the CSV prints 6 decimals
        Path modelDir = RESOURCES.resolve(Json.string(ref.get("model"), "model"));
        double zMax = 0;
        for (Object layer : layers)
            for (Object t : Json.array(Json.object(layer, "layer").get("router_logits"), "z"))
                for (Object h : Json.array(t, "t"))
                    for (Object z : Json.array(h, "h")) zMax = Math.max(zMax, Math.abs(Json.number(z, "z")));
        double tol = moice.Bounds.softmaxWeight(1, moice.Bounds.forwardPass(modelDir, fixture.resolve("tokens.json")) * zMax)
                + 5e-7;
        int row = 1, checked = 0;
        for (int l = 0; l < layers.size(); l++) {
            Map<String, Object> layer = Json.object(layers.get(l), "layer");
            List<Object> experts = Json.array(layer.get("experts"), "experts");
            List<Object> weights = Json.array(layer.get("weights"), "weights");
            int T = experts.size(), heads = Json.array(experts.get(0), "t").size();
            long[][] count = new long[heads][n];
            double[][] sum = new double[heads][n];
            for (int t = 0; t < T; t++)
                for (int h = 0; h < heads; h++) {
                    List<Object> e = Json.array(Json.array(experts.get(t), "t").get(h), "e");
                    List<Object> w = Json.array(Json.array(weights.get(t), "t").get(h), "w");
                    for (int k = 0; k < e.size(); k++) {
                        int j = (int) Json.integer(e.get(k), "expert");
                        count[h][j]++;
                        sum[h][j] += Json.number(w.get(k), "weight");
                    }
                }
            for (int h = 0; h < heads; h++)
                for (int j = 0; j < n; j++) {
                    String[] f = lines.get(row++).split(",");
                    assertEquals(l + "," + h + "," + j, f[0] + "," + f[1] + "," + f[2]);
                    assertEquals(Json.number(bases.get(j), "base"), Double.parseDouble(f[3]));
                    assertEquals(T, Integer.parseInt(f[4]));
                    assertEquals(count[h][j], Long.parseLong(f[5]), "layer " + l + " head " + h + " expert " + j);
                    assertEquals(sum[h][j] / T, Double.parseDouble(f[7]), tol);
                    assertEquals(count[h][j] == 0 ? 0 : sum[h][j] / count[h][j], Double.parseDouble(f[8]), tol);
                    checked++;
                }
        }
        assertEquals(lines.size(), row);
        assertTrue(checked > 0);
        try (var files = Files.list(tmp)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temporary left");
        }
    }

    @Test
    void needsMoice() {
        Path fixture = RESOURCES.resolve("moice/llama-gqa");
        CliTest.Run r = CliTest.run("forward", "--model", RESOURCES.resolve("models/llama-gqa").toString(),
                "--tokens", fixture.resolve("tokens.json").toString(), "--out", tmp.resolve("l.safetensors").toString(),
                "--routing-stats", tmp.resolve("s.csv").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--routing-stats needs --moice ROUTERS"), r.err());
        assertFalse(Files.exists(tmp.resolve("s.csv")));
    }
}
