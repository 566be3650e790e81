package moice.model;

import moice.io.Json;
import moice.load.LoadedModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Greedy generation gives the same tokens as transformers' {@code generate(do_sample=False)} (greedy.json). */
class GreedyGenerationTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2-bias-tied"})
    void sameTokensAsTransformers(String name) {
        Path dir = HfLogitsTest.MODELS.resolve(name);
        Map<String, Object> json = Json.object(Json.parseFile(dir.resolve("greedy.json")), "greedy.json");
        int[] prompt = ints(json.get("prompt"));
        int[] expected = ints(json.get("generated"));
        try (LoadedModel m = LoadedModel.open(dir)) {
            Generator.Result r = Generator.generate(m.model(), m.model().vanilla(), prompt, new Sampler(0, 0, 1, 0),
                    new Generator.Settings(expected.length, Set.of(), List.of(), 0), id -> "", s -> { });
            assertArrayEquals(expected, r.tokens());
        }
    }

    static int[] ints(Object v) {
        return Json.array(v, "ids").stream().mapToInt(o -> (int) Json.integer(o, "id")).toArray();
    }
}
