package moice.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The BPE engine on hand-made vocabularies, with results worked out by hand. */
class BpeModelTest {
    private static Map<String, Integer> vocab(String... tokens) {
        Map<String, Integer> v = new LinkedHashMap<>();
        for (String t : tokens) v.put(t, v.size());
        return v;
    }

    private static BpeModel.Merge m(String a, String b) {
        return new BpeModel.Merge(a, b);
    }

    @Test
    void lowestRankMergesFirst() {
        // a=0 b=1 c=2 ab=3 bc=4 abc=5; "b c" outranks "a b", so abc = a + bc.
        BpeModel bpe = new BpeModel("test", vocab("a", "b", "c", "ab", "bc", "abc"),
                List.of(m("b", "c"), m("a", "b"), m("a", "bc")), BpeModel.Options.BYTE_LEVEL);
        assertArrayEquals(new int[]{5}, bpe.tokenize("abc"));
        assertArrayEquals(new int[]{3}, bpe.tokenize("ab"));
        // a b c a b: b+c first (rank 0), then a+b at the end (rank 1), then a+bc (rank 2); the stale a+b entry at
        // position 0 is skipped because that pair is now (a, bc).
        assertArrayEquals(new int[]{5, 3}, bpe.tokenize("abcab"));
        assertArrayEquals(new int[0], bpe.tokenize(""));
    }

    @Test
    void tiesGoToTheLeftmostPair() {
        BpeModel bpe = new BpeModel("test", vocab("a", "aa", "aaaa"), List.of(m("a", "a"), m("aa", "aa")),
                BpeModel.Options.BYTE_LEVEL);
        assertArrayEquals(new int[]{1, 0}, bpe.tokenize("aaa"));
        assertArrayEquals(new int[]{2}, bpe.tokenize("aaaa"));
        assertArrayEquals(new int[]{2, 1, 0}, bpe.tokenize("aaaaaaa"));
    }

    @Test
    void unknownCharactersFuseDropOrFallBackToBytes() {
        Map<String, Integer> v = vocab("<unk>", "a");
        assertArrayEquals(new int[]{1, 0, 1}, new BpeModel("t", v, List.of(),
                new BpeModel.Options(false, "<unk>", true, false, null, null)).tokenize("axyza"));
        assertArrayEquals(new int[]{1, 0, 0, 0, 1}, new BpeModel("t", v, List.of(),
                new BpeModel.Options(false, "<unk>", false, false, null, null)).tokenize("axyza"));
        assertArrayEquals(new int[]{1, 1}, new BpeModel("t", v, List.of(), BpeModel.Options.BYTE_LEVEL)
                .tokenize("axa"));
        Map<String, Integer> withBytes = vocab("<unk>", "a");
        for (int b = 0; b < 256; b++) withBytes.put(String.format("<0x%02X>", b), 2 + b);
        BpeModel fallback = new BpeModel("t", withBytes, List.of(),
                new BpeModel.Options(true, "<unk>", true, false, null, null));
        assertArrayEquals(new int[]{1, 2 + 0xC3, 2 + 0xA9, 1}, fallback.tokenize("aéa"));
    }

    @Test
    void ignoreMergesTakesWholeWords() {
        Map<String, Integer> v = vocab("a", "b", "ab", "ba", "aba");
        List<BpeModel.Merge> merges = List.of(m("a", "b"), m("b", "a"));
        assertArrayEquals(new int[]{2, 0}, new BpeModel("t", v, merges, BpeModel.Options.BYTE_LEVEL).tokenize("aba"));
        assertArrayEquals(new int[]{4}, new BpeModel("t", v, merges,
                new BpeModel.Options(false, null, false, true, null, null)).tokenize("aba"));
    }

    @Test
    void subwordPrefixAndWordSuffix() {
        Map<String, Integer> v = vocab("l", "##o", "##w", "##o</w>", "##w</w>", "lo", "low</w>", "##ow</w>");
        BpeModel bpe = new BpeModel("t", v, List.of(m("l", "##o"), m("lo", "##w</w>")),
                new BpeModel.Options(false, null, false, false, "##", "</w>"));
        assertArrayEquals(new int[]{6}, bpe.tokenize("low"));
        assertArrayEquals(new int[]{5, 1, 3}, bpe.tokenize("looo"));
    }

    @Test
    void mergesFromScoresByHand() {
        // Score of the whole token first (higher first), then longer left part, then longer right part.
        Map<String, Integer> v = vocab("a", "b", "c", "ab", "bc", "abc");
        float[] scores = {0, 0, 0, -1f, -0.5f, -2f};
        List<BpeModel.Merge> merges = BpeModel.mergesFromScores(v, scores);
        assertEquals(List.of(m("b", "c"), m("a", "b"), m("ab", "c"), m("a", "bc")), merges);
        BpeModel bpe = new BpeModel("t", v, merges, BpeModel.Options.BYTE_LEVEL);
        assertArrayEquals(new int[]{5}, bpe.tokenize("abc"));
    }

    @Test
    void mergesFromScoresMatchTransformers() {
        // A SentencePiece BPE model's pieces and scores, and the merges transformers derives from them.
        Map<String, Object> fixture = moice.io.Json.object(moice.io.Json.parseFile(
                java.nio.file.Path.of("src/test/resources/tokenizers/spm_scores.json")), "spm_scores");
        List<Object> tokens = moice.io.Json.array(fixture.get("tokens"), "tokens");
        List<Object> scoreList = moice.io.Json.array(fixture.get("scores"), "scores");
        Map<String, Integer> v = new LinkedHashMap<>();
        float[] scores = new float[tokens.size()];
        for (int i = 0; i < tokens.size(); i++) {
            v.put((String) tokens.get(i), i);
            scores[i] = (float) moice.io.Json.number(scoreList.get(i), "score");
        }
        List<BpeModel.Merge> expected = new java.util.ArrayList<>();
        for (Object o : moice.io.Json.array(fixture.get("merges"), "merges")) {
            List<Object> pair = moice.io.Json.array(o, "merge");
            expected.add(m((String) pair.get(0), (String) pair.get(1)));
        }
        assertEquals(true, expected.size() > 500);
        assertEquals(expected, BpeModel.mergesFromScores(v, scores));
    }
}
