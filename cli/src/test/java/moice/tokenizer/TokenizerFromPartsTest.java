package moice.tokenizer;

import moice.io.Json;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The public constructor (the path a GGUF vocabulary takes: plain vocab and merges, pipeline parts in code) builds a
 * tokenizer equal to the one read from tokenizer.json.
 */
class TokenizerFromPartsTest {
    private record Data(Map<String, Integer> vocab, List<BpeModel.Merge> merges, List<AddedToken> added) {
    }

    /** Vocab, merges and added tokens as plain data, as a GGUF reader would hold them. */
    private static Data data(String name) {
        Map<String, Object> root = Json.object(Json.parseFile(TokenizerFixtureTest.dir(name).resolve("tokenizer.json")),
                name);
        Map<String, Object> model = Json.object(root.get("model"), "model");
        Map<String, Integer> vocab = new LinkedHashMap<>();
        Json.object(model.get("vocab"), "vocab").forEach((k, v) -> vocab.put(k, (int) Json.integer(v, k)));
        List<BpeModel.Merge> merges = new ArrayList<>();
        for (Object o : Json.array(model.get("merges"), "merges")) {
            List<Object> pair = Json.array(o, "merge");
            merges.add(new BpeModel.Merge((String) pair.get(0), (String) pair.get(1)));
        }
        List<AddedToken> added = new ArrayList<>();
        for (Object o : Json.array(root.get("added_tokens"), "added_tokens")) {
            Map<String, Object> t = Json.object(o, "added");
            added.add(new AddedToken((String) t.get("content"), (int) Json.integer(t.get("id"), "id"),
                    (Boolean) t.get("special"), (Boolean) t.get("single_word"), (Boolean) t.get("lstrip"),
                    (Boolean) t.get("rstrip"), (Boolean) t.get("normalized")));
        }
        return new Data(vocab, merges, added);
    }

    private static void assertSameEncodings(Tokenizer expected, Tokenizer actual) {
        Random rnd = new Random(17);
        for (int i = 0; i < 1500; i++) {
            String text = RandomText.string(rnd);
            int[] ids = expected.encode(text);
            assertArrayEquals(ids, actual.encode(text), text);
            assertEquals(expected.decode(ids, false), actual.decode(ids, false));
        }
    }

    @Test
    void smolLmStyleByteLevel() {
        Data d = data("bytelevel_smollm");
        Tokenizer built = new Tokenizer(null,
                new PreTokenizer.Sequence(List.of(new PreTokenizer.Digits(true), new PreTokenizer.ByteLevel(false, true))),
                new BpeModel("parts", d.vocab(), d.merges(), BpeModel.Options.BYTE_LEVEL), d.added(),
                new PostProcessor.ByteLevel(), new Decoder.ByteLevel());
        assertSameEncodings(TokenizerFixtureTest.load("bytelevel_smollm"), built);
    }

    @Test
    void llama3StyleSplitRegex() {
        Data d = data("bytelevel_llama3");
        String llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        int bos = d.vocab().size(); // <|begin_of_text|> follows the vocabulary
        Tokenizer built = new Tokenizer(null,
                new PreTokenizer.Sequence(List.of(PreTokenizer.Split.regex(llama3, SplitBehavior.ISOLATED, false, "test"),
                        new PreTokenizer.ByteLevel(false, false))),
                new BpeModel("parts", d.vocab(), d.merges(), new BpeModel.Options(false, null, false, true, null, null)),
                d.added(), new PostProcessor.Template(List.of(PostProcessor.TemplatePiece.special("<|begin_of_text|>", bos),
                PostProcessor.TemplatePiece.sequence())), new Decoder.ByteLevel());
        assertSameEncodings(TokenizerFixtureTest.load("bytelevel_llama3"), built);
    }

    @Test
    void llama2StyleSentencePiece() {
        Data d = data("spm_llama2");
        Tokenizer built = new Tokenizer(
                new Normalizer.Sequence(List.of(new Normalizer.Prepend("▁"), Normalizer.Replace.literal(" ", "▁"))),
                null,
                new BpeModel("parts", d.vocab(), d.merges(), new BpeModel.Options(true, "<unk>", true, false, null, null)),
                d.added(),
                new PostProcessor.Template(List.of(PostProcessor.TemplatePiece.special("<s>", 1),
                        PostProcessor.TemplatePiece.sequence())),
                new Decoder.Sequence(List.of(Decoder.Replace.literal("▁", " "), new Decoder.ByteFallback(),
                        new Decoder.Fuse(), new Decoder.Strip(' ', 1, 0))));
        assertSameEncodings(TokenizerFixtureTest.load("spm_llama2"), built);
    }
}
