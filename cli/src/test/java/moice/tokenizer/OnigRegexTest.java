package moice.tokenizer;

import moice.MoiceException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Oniguruma → Java translation details that the HF-generated component fixture does not reach; the behavior of
 * Oniguruma was observed through HF tokenizers' Split pre-tokenizer.
 */
class OnigRegexTest {
    private static List<String> matches(String onig, String text) {
        Matcher m = OnigRegex.compile(onig, "test").matcher(text);
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group());
        return out;
    }

    @Test
    void escapesAndBraces() {
        assertEquals(List.of("😀"), matches("\\x{1F600}", "a😀b"));
        assertEquals(List.of("A"), matches("\\x41", "xAx"));
        assertEquals(List.of("aa", "aa"), matches("a{,2}", "aaaa").stream().filter(s -> !s.isEmpty()).toList());
        assertEquals(List.of("a{"), matches("a{", "xa{"));
        assertEquals(List.of("a{x}"), matches("a{x}", "a{x}"));
        assertEquals(List.of("aaa"), matches("a{2,3}", "aaa"));
    }

    @Test
    void unicodeClassesAreOniguruma() {
        assertEquals(List.of("\u00a0", "\u2028", "\u3000", "\u0085"), matches("\\s", "a\u00a0b\u2028c\u3000d\u0085e\u200bf"));
        assertEquals(List.of("ab_١", "²"), matches("\\w+", "ab_١ ² \u200d"));
        assertEquals(List.of("K", "k", "ſ", "s"), matches("(?i:k|s)", "Kkſs"));
        assertEquals(List.of("漢字"), matches("\\p{Han}+", "ab漢字"));
        assertEquals(List.of("12"), matches("\\p{^L}+", "ab12cd"));
        assertEquals(List.of("$", "!"), matches("[[:punct:]]", "a$b!"));
        assertEquals(List.of("!"), matches("\\p{Punct}", "a$b!"));
        assertEquals(List.of("0aF"), matches("\\h+", "xyz 0aF g"));
    }

    @Test
    void anchorsAreLineAnchorsAndDotStopsOnlyAtNewline() {
        assertEquals(List.of("a", "a"), matches("^a", "a\na"));
        assertEquals(List.of("a", "\r"), matches(".", "a\n\r"));
        assertEquals(List.of("a", "\n"), matches("(?m).", "a\n"));
    }

    @Test
    void untranslatableConstructsAreReported() {
        for (String bad : new String[]{"a\\Kb", "\\bword", "\\p{NoSuchProperty}", "(?~abc)", "\\g<1>"}) {
            MoiceException e = assertThrows(MoiceException.class, () -> OnigRegex.compile(bad, "f.json: x.Regex"));
            assertTrue(e.getMessage().startsWith("f.json: x.Regex: regex "), e.getMessage());
        }
    }

    @Test
    void literalPatternsReplaceVerbatim() {
        Pattern p = OnigRegex.literal("a.b");
        assertEquals("x_y", OnigRegex.replaceAll(p, "xa.by", "_"));
        assertEquals("xaXby", OnigRegex.replaceAll(p, "xaXby", "_"));
        assertEquals("$1\\", OnigRegex.replaceAll(OnigRegex.literal("▁"), "▁", "$1\\"));
    }
}
