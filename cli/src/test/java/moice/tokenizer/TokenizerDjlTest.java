package moice.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Differential test against HF tokenizers (Rust, through DJL's JNI binding, whose jar bundles the native library so it
 * works offline) on strings generated here: a second, independent reference beside the Python-made fixtures.
 */
class TokenizerDjlTest {
    private static final int STRINGS = 3000;

    private static HuggingFaceTokenizer reference(String name) {
        System.setProperty("DJL_CACHE_DIR", "target/djl-cache");
        System.setProperty("ai.djl.offline", "true");
        try {
            return HuggingFaceTokenizer.newInstance(TokenizerFixtureTest.dir(name).resolve("tokenizer.json"),
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"));
        } catch (Exception | UnsatisfiedLinkError e) {
            assumeTrue(false, "DJL tokenizers native library not usable here: " + e);
            throw new AssertionError(e);
        }
    }

    private static int[] ints(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    private static long[] longs(int[] ids) {
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = ids[i];
        return out;
    }

    /**
     * tokenizers 0.23 (the fixtures, and moice) decodes an added token with normalized=true in its normalized form
     * ("▁hello▁world"); 0.21 (in DJL 0.38) still decodes its raw content. Decodes containing such ids are not compared.
     */
    private static boolean decodesDifferAcrossVersions(Tokenizer tok, int[] ids) {
        for (int id : ids) {
            for (AddedToken t : tok.addedTokens()) {
                if (t.id() == id && !t.content().equals(tok.tokenText(id))) return true;
            }
        }
        return false;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2", "spm_metaspace",
            "misc_bpe"})
    void randomTextMatchesRustTokenizers(String name) throws Exception {
        Tokenizer tok = TokenizerFixtureTest.load(name);
        TokenizerFixtureTest.Mismatches bad = new TokenizerFixtureTest.Mismatches();
        try (HuggingFaceTokenizer ref = reference(name)) {
            Random rnd = new Random(name.hashCode());
            for (int i = 0; i < STRINGS; i++) {
                String text = RandomText.string(rnd);
                int[] expected = ints(ref.encode(text).getIds());
                int[] got = tok.encode(text);
                bad.check(java.util.Arrays.equals(expected, got), "encode " + TokenizerFixtureTest.show(text)
                        + "\n  rust " + TokenizerFixtureTest.show(expected) + "\n  java " + TokenizerFixtureTest.show(got));
                for (boolean skip : new boolean[]{false, true}) {
                    if (decodesDifferAcrossVersions(tok, expected)) break;
                    String want = ref.decode(longs(expected), skip);
                    String have = tok.decode(expected, skip);
                    bad.check(want.equals(have), "decode(skip=" + skip + ") " + TokenizerFixtureTest.show(expected)
                            + "\n  rust " + TokenizerFixtureTest.show(want) + "\n  java " + TokenizerFixtureTest.show(have));
                }
            }
            // Arbitrary id sequences: invalid UTF-8 from byte tokens, special tokens in odd places.
            for (int i = 0; i < STRINGS / 4; i++) {
                int[] ids = new int[1 + rnd.nextInt(16)];
                for (int k = 0; k < ids.length; k++) ids[k] = rnd.nextInt(tok.vocabSize());
                for (boolean skip : new boolean[]{false, true}) {
                    if (decodesDifferAcrossVersions(tok, ids)) break;
                    String want = ref.decode(longs(ids), skip);
                    String have = tok.decode(ids, skip);
                    bad.check(want.equals(have), "decode(skip=" + skip + ") " + TokenizerFixtureTest.show(ids)
                            + "\n  rust " + TokenizerFixtureTest.show(want) + "\n  java " + TokenizerFixtureTest.show(have));
                }
            }
        }
        bad.assertNone(name + " vs DJL");
        assertTrue(STRINGS >= 1000);
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2", "spm_metaspace",
            "misc_bpe"})
    void longRunsMatchRustTokenizers(String name) throws Exception {
        Tokenizer tok = TokenizerFixtureTest.load(name);
        String[] texts = {" ".repeat(8000) + "x", "\n".repeat(8000), "\r\n".repeat(4000) + " ", "1".repeat(8000),
                "a".repeat(8000), "!".repeat(8000), "😀".repeat(2000), "ab ".repeat(3000), " \t\n".repeat(3000),
                "<s>".repeat(2000), "x\u00a0".repeat(4000), "日本".repeat(4000)};
        TokenizerFixtureTest.Mismatches bad = new TokenizerFixtureTest.Mismatches();
        try (HuggingFaceTokenizer ref = reference(name)) {
            for (String text : texts) {
                int[] expected = ints(ref.encode(text).getIds());
                int[] got = tok.encode(text);
                bad.check(java.util.Arrays.equals(expected, got), "encode " + TokenizerFixtureTest.show(text)
                        + "\n  rust " + TokenizerFixtureTest.show(expected) + "\n  java " + TokenizerFixtureTest.show(got));
            }
        }
        bad.assertNone(name + " long runs vs DJL");
    }
}
