package moice.tokenizer;

import moice.io.Json;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Vocabulary look-ups and special-token accessors, checked against the tokenizer.json files themselves. */
class TokenizerApiTest {
    private static Map<String, Object> json(String name) {
        return Json.object(Json.parseFile(TokenizerFixtureTest.dir(name).resolve("tokenizer.json")), name);
    }

    @Test
    void vocabularyLookupsAgreeWithTheFile() {
        for (String name : TokenizerFixtureTest.FIXTURES) {
            Tokenizer tok = TokenizerFixtureTest.load(name);
            Map<String, Object> root = json(name);
            Map<String, Object> vocab = Json.object(Json.object(root.get("model"), "model").get("vocab"), "vocab");
            for (Map.Entry<String, Object> e : vocab.entrySet()) {
                int id = (int) Json.integer(e.getValue(), "id");
                assertEquals(OptionalInt.of(id), tok.tokenId(e.getKey()), name + " " + e.getKey());
                assertEquals(e.getKey(), tok.tokenText(id), name + " " + id);
            }
            for (Object o : Json.array(root.get("added_tokens"), "added_tokens")) {
                Map<String, Object> t = Json.object(o, "added");
                int id = (int) Json.integer(t.get("id"), "id");
                assertEquals(OptionalInt.of(id), tok.tokenId((String) t.get("content")), name);
                assertEquals(Json.bool(t.get("special"), "special"), tok.isSpecial(id), name + " " + t.get("content"));
            }
            assertNull(tok.tokenText(-1));
            assertNull(tok.tokenText(tok.vocabSize()));
            assertEquals(OptionalInt.empty(), tok.tokenId("no such token, surely"));
            assertFalse(tok.isSpecial(-5));
        }
    }

    @Test
    void normalizedAddedTokenShowsItsNormalizedForm() {
        Tokenizer tok = TokenizerFixtureTest.load("spm_llama2");
        int id = tok.tokenId("hello world").orElseThrow();
        assertEquals("▁hello▁world", tok.tokenText(id)); // as HF id_to_token in tokenizers 0.23
        assertFalse(tok.isSpecial(id));
    }

    @Test
    void bosAndEos() {
        record Expect(String name, Optional<String> bos, Optional<String> eos) {
        }
        for (Expect e : List.of(
                new Expect("bytelevel_smollm", Optional.empty(), Optional.of("<|endoftext|>")),
                new Expect("spm_llama2", Optional.of("<s>"), Optional.of("</s>")),
                new Expect("bytelevel_llama3", Optional.of("<|begin_of_text|>"), Optional.of("<|end_of_text|>")),
                new Expect("bytelevel_qwen2", Optional.empty(), Optional.of("<|endoftext|>")),
                new Expect("spm_metaspace", Optional.of("<s>"), Optional.of("</s>")),
                new Expect("misc_bpe", Optional.of("[CLS]"), Optional.of("[SEP]")))) {
            Tokenizer tok = TokenizerFixtureTest.load(e.name());
            assertEquals(e.bos(), tok.bosToken(), e.name());
            assertEquals(e.eos(), tok.eosToken(), e.name());
        }
    }

    @Test
    void specialTokensAreAddedOnlyWhenAsked() {
        Tokenizer tok = TokenizerFixtureTest.load("spm_llama2");
        int bos = tok.tokenId("<s>").orElseThrow();
        int[] with = tok.encode("Hello");
        int[] without = tok.encode("Hello", false);
        assertEquals(bos, with[0]);
        assertArrayEquals(without, java.util.Arrays.copyOfRange(with, 1, with.length));
        assertArrayEquals(new int[]{bos}, tok.encode(""));
        assertArrayEquals(new int[0], tok.encode("", false));
        // Written in the text, special tokens are recognized either way.
        assertEquals(bos, tok.encode("<s>", false)[0]);
    }

    @Test
    void byteFallbackSpellsUnknownCharactersAsBytes() {
        Tokenizer tok = TokenizerFixtureTest.load("spm_llama2");
        String rare = "\u16A0"; // a runic letter, certainly not in the tiny vocabulary: UTF-8 E1 9A A0
        int[] ids = tok.encode(rare, false);
        int[] bytes = {tok.tokenId("<0xE1>").orElseThrow(), tok.tokenId("<0x9A>").orElseThrow(),
                tok.tokenId("<0xA0>").orElseThrow()};
        assertArrayEquals(bytes, java.util.Arrays.copyOfRange(ids, ids.length - 3, ids.length));
        assertEquals(rare, tok.decode(ids, true).strip());
    }

    @Test
    void streamDecoderHoldsBackIncompleteCharacters() {
        Tokenizer tok = TokenizerFixtureTest.load("spm_llama2");
        StreamDecoder stream = tok.newStreamDecoder(true);
        StringBuilder out = new StringBuilder();
        out.append(stream.push(tok.tokenId("▁a").orElse(tok.tokenId("a").orElseThrow())));
        assertEquals("", stream.push(tok.tokenId("<0xE2>").orElseThrow()));
        assertEquals("", stream.push(tok.tokenId("<0x82>").orElseThrow()));
        String euro = stream.push(tok.tokenId("<0xAC>").orElseThrow());
        assertEquals("€", euro);
        assertEquals("", stream.push(tok.tokenId("<0xE2>").orElseThrow()));
        assertEquals("\uFFFD", stream.finish()); // a dangling lead byte comes out at the end
        assertTrue(out.length() > 0);
    }

    @Test
    void legacyMergeStringsReadLikePairs(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        // tokenizers >= 0.20 writes merges as ["a", "b"] pairs; older files (Llama 2, SmolLM...) as "a b" strings.
        for (String name : new String[]{"bytelevel_smollm", "spm_llama2"}) {
            Map<String, Object> root = json(name);
            Map<String, Object> model = Json.object(root.get("model"), "model");
            List<Object> legacy = new java.util.ArrayList<>();
            for (Object pair : Json.array(model.get("merges"), "merges")) {
                List<Object> p = Json.array(pair, "pair");
                legacy.add(p.get(0) + " " + p.get(1));
            }
            model.put("merges", legacy);
            java.nio.file.Path file = tmp.resolve(name + ".json");
            java.nio.file.Files.writeString(file, Json.write(root));
            Tokenizer pairs = TokenizerFixtureTest.load(name);
            Tokenizer strings = Tokenizer.load(file);
            java.util.Random rnd = new java.util.Random(5);
            for (int i = 0; i < 300; i++) {
                String text = RandomText.string(rnd);
                assertArrayEquals(pairs.encode(text), strings.encode(text), text);
            }
        }
    }
}
