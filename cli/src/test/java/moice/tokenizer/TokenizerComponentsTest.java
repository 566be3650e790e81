package moice.tokenizer;

import moice.io.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each pre-tokenizer and normalizer alone against HF tokenizers' {@code pre_tokenize_str} / {@code normalize_str}
 * (fixture components.json.gz): Oniguruma patterns from real models and edge constructs, every split behavior with and
 * without invert, Metaspace prepend schemes, Unicode normal forms.
 */
class TokenizerComponentsTest {
    @Test
    void everyComponentMatchesHf() {
        Map<String, Object> fixture = Json.object(
                TokenizerFixtureTest.readJson(Path.of("src/test/resources/tokenizers/components.json.gz")), "fixture");
        List<Object> texts = Json.array(fixture.get("texts"), "texts");
        List<Object> cases = Json.array(fixture.get("cases"), "cases");
        TokenizerFixtureTest.Mismatches bad = new TokenizerFixtureTest.Mismatches();
        int preTokenizers = 0;
        int normalizers = 0;
        for (Object c : cases) {
            Map<String, Object> kase = Json.object(c, "case");
            List<Object> outputs = Json.array(kase.get("outputs"), "outputs");
            if (kase.containsKey("pre_tokenizer")) {
                preTokenizers++;
                Object json = kase.get("pre_tokenizer");
                PreTokenizer p = TokenizerJson.readPreTokenizer(json, "components.json");
                for (int i = 0; i < texts.size(); i++) {
                    String text = (String) texts.get(i);
                    List<String> got = new ArrayList<>();
                    List<PreToken> pieces = new ArrayList<>();
                    if (!text.isEmpty()) p.split(new PreToken(text, true), pieces);
                    for (PreToken t : pieces) got.add(t.text());
                    bad.check(outputs.get(i).equals(got), Json.write(json) + " on " + TokenizerFixtureTest.show(text)
                            + "\n  hf   " + Json.write(outputs.get(i)) + "\n  java " + Json.write(got));
                }
            } else {
                normalizers++;
                Object json = kase.get("normalizer");
                Normalizer n = TokenizerJson.readNormalizer(json, "components.json");
                for (int i = 0; i < texts.size(); i++) {
                    String text = (String) texts.get(i);
                    String got = n.normalize(text);
                    bad.check(outputs.get(i).equals(got), Json.write(json) + " on " + TokenizerFixtureTest.show(text)
                            + "\n  hf   " + TokenizerFixtureTest.show((String) outputs.get(i))
                            + "\n  java " + TokenizerFixtureTest.show(got));
                }
            }
        }
        assertTrue(preTokenizers > 60 && normalizers > 10 && texts.size() > 200);
        bad.assertNone("components");
    }
}
