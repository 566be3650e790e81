package moice.tokenizer.jinja;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Python building blocks, against values computed by hand from the Python language reference. */
class JinjaPythonSemanticsTest {
    @Test
    void floatReprIsShortestRoundTripWithPythonExponentRules() {
        assertEquals("0.1", Values.floatRepr(0.1));
        assertEquals("0.30000000000000004", Values.floatRepr(0.1 + 0.2));
        assertEquals("1e+16", Values.floatRepr(1e16));
        assertEquals("1000000000000000.0", Values.floatRepr(1e15));
        assertEquals("0.0001", Values.floatRepr(1e-4));
        assertEquals("1e-05", Values.floatRepr(1e-5));
        assertEquals("-1.5e-300", Values.floatRepr(-1.5e-300));
        assertEquals("1.7976931348623157e+308", Values.floatRepr(Double.MAX_VALUE));
        assertEquals("5e-324", Values.floatRepr(Double.MIN_VALUE));
        assertEquals("-0.0", Values.floatRepr(-0.0));
        assertEquals("inf", Values.floatRepr(Double.POSITIVE_INFINITY));
        assertEquals("nan", Values.floatRepr(Double.NaN));
        assertEquals("123.0", Values.floatRepr(123));
    }

    @Test
    void stringLiteralEscapesArePythons() {
        assertEquals("a\nb\t\\\u0007\u000bA\u00e9\uD83D\uDE00\u0041", PyStrings.unescape("a\\nb\\t\\\\\\a\\v\\x41\\u00e9\\U0001F600\\101"));
        assertEquals("\\q\\d", PyStrings.unescape("\\q\\d"), "unknown escapes keep the backslash");
        assertEquals("ab", PyStrings.unescape("a\\\nb"), "backslash-newline joins lines");
        assertEquals("\u00e9", PyStrings.unescape("\\N{LATIN SMALL LETTER E WITH ACUTE}"));
        assertThrows(IllegalArgumentException.class, () -> PyStrings.unescape("\\x4"));
    }

    @Test
    void reprChoosesQuotesLikePython() {
        assertEquals("'abc'", PyStrings.repr("abc"));
        assertEquals("\"it's\"", PyStrings.repr("it's"));
        assertEquals("'both \\' \"'", PyStrings.repr("both ' \""));
        assertEquals("'\\n\\x00\\x7f\u00e9'", PyStrings.repr("\n\u0000\u007f\u00e9"));
        assertEquals("'\\u200b'", PyStrings.repr("\u200b"), "format characters are escaped");
    }

    @Test
    void whitespaceIsPythonsIsspace() {
        for (int c : new int[] {' ', '\t', '\n', '\r', 0x0b, 0x0c, 0x1c, 0x85, 0xa0, 0x2000, 0x200a, 0x2028, 0x202f, 0x3000}) {
            assertTrue(PyStrings.isWhitespace(c), Integer.toHexString(c));
        }
        for (int c : new int[] {'x', 0x200b, 0xfeff, 0x180e}) assertFalse(PyStrings.isWhitespace(c), Integer.toHexString(c));
        assertEquals(List.of("a", "b c "), PyStrings.split(" a  b c ", null, 1));
    }

    @Test
    void equalityAndOrderingFollowPython() {
        assertTrue(Values.equal(1L, 1.0));
        assertTrue(Values.equal(true, 1L));
        assertFalse(Values.equal(List.of(1L), PyTuple.of(1L)), "a list never equals a tuple");
        assertTrue(Values.equal(new java.util.LinkedHashMap<>(java.util.Map.of("a", 1L)), java.util.Map.of("a", 1.0)));
        assertTrue(Values.compare("\uD83D\uDE00", "\uFFFF", "<") > 0, "code point order, not UTF-16 order");
        assertEquals(-4L, Values.binary("//", -7L, 2L));
        assertEquals(2L, Values.binary("%", -7L, 3L));
        assertEquals(-0.5, Values.binary("%", 7.5, -2L));
        TemplateError e = assertThrows(TemplateError.class, () -> Values.binary("+", Long.MAX_VALUE, 1L));
        assertTrue(e.getMessage().contains("overflow"));
    }

    @Test
    void lexerLinesAndWhitespaceControl() {
        List<Lexer.Token> tokens = Lexer.tokenize("a\n  {%- if x -%}\n b\n{{ y }}\r\n", "t");
        assertEquals(Lexer.Kind.TEXT, tokens.get(0).kind());
        assertEquals("a", tokens.get(0).text());
        assertEquals(2, tokens.get(1).line(), "{% starts on line 2");
        Lexer.Token b = tokens.stream().filter(t -> t.kind() == Lexer.Kind.TEXT && t.text().startsWith("b")).findFirst().orElseThrow();
        assertEquals("b\n", b.text());
        assertEquals(3, b.line());
        assertEquals(Lexer.Kind.EOF, tokens.get(tokens.size() - 1).kind());
    }

    @Test
    void floatReprMatchesPythonOnSampledDoubles() throws Exception {
        java.nio.file.Path file = java.nio.file.Path.of(getClass().getResource("/chat/jinja_semantics.json").toURI());
        var doc = moice.io.Json.object(moice.io.Json.parseFile(file), "semantics");
        var samples = moice.io.Json.array(doc.get("float_repr"), "float_repr");
        assertTrue(samples.size() > 1000);
        for (Object s : samples) {
            var pair = moice.io.Json.array(s, "sample");
            double d = Double.longBitsToDouble(Long.parseUnsignedLong((String) pair.get(0), 16));
            assertEquals(pair.get(1), Values.floatRepr(d), (String) pair.get(0));
        }
    }
}
