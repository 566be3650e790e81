package moice.io;

import moice.MoiceException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Json}: the value mapping of RFC 8259 documents, and strictness with errors that name source, line and column. */
class JsonTest {
    @Test
    void mapsValues() {
        Map<String, Object> m = Json.object(Json.parse("""
                {"b": 1, "a": [true, false, null, "x\\u00e9\\n"], "n": -12.5e2, "big": 12345678901234567890,
                 "long": 9007199254740993, "o": {}}""", "t"), "t");
        assertEquals(List.of("b", "a", "n", "big", "long", "o"), List.copyOf(m.keySet()), "key order kept");
        assertEquals(1L, m.get("b"));
        List<Object> a = Json.array(m.get("a"), "a");
        assertEquals(Boolean.TRUE, a.get(0));
        assertNull(a.get(2));
        assertEquals("xé\n", a.get(3));
        assertEquals(-1250.0, m.get("n"));
        assertEquals(1.2345678901234567e19, m.get("big"), "integers beyond a long are doubles");
        assertEquals(9007199254740993L, m.get("long"));
        assertEquals(Map.of(), m.get("o"));
        assertEquals("{\"b\":1,\"a\":[true,false,null,\"xé\\n\"],\"n\":-1250.0,\"big\":1.2345678901234567E19,"
                + "\"long\":9007199254740993,\"o\":{}}", Json.write(m));
    }

    @Test
    void isStrict() {
        assertError("{\"a\": 1, \"a\": 2}", "line 1", "Duplicate field 'a'");
        assertError("{\"a\": 1}\n  x", "line 2, column 3", "trailing");
        assertError("[1, 2] [3]", "line 1, column 8", "trailing");
        assertError("{\"a\": 01}", "line 1", "");
        assertError("[NaN]", "line 1", "");
        assertError("{\"a\": 1, }", "line 1", "");
        assertError("// c\n{}", "line 1", "");
        assertError("{'a': 1}", "line 1", "");
        assertError("", "line 1", "end of input");
        assertError("{\"a\": [1, 2", "line 1", "");
        assertError("\"tab\there\"", "line 1", "");
        assertError("[".repeat(600) + "]".repeat(600), "nesting depth (513) exceeds the maximum allowed (512");
    }

    private static void assertError(String text, String... mentions) {
        MoiceException e = assertThrows(MoiceException.class, () -> Json.parse(text, "doc.json"));
        assertTrue(e.getMessage().startsWith("doc.json: malformed JSON"), e.getMessage());
        for (String m : mentions) assertTrue(e.getMessage().contains(m), e.getMessage() + " should mention " + m);
    }
}
