package moice.tokenizer;

import moice.MoiceException;
import moice.tokenizer.jinja.JinjaException;
import moice.tokenizer.jinja.JinjaTemplate;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Interpreter behaviour on small templates whose output is worked out by hand from jinja2's documented rules. */
class JinjaTemplateTest {
    private static String render(String source, Map<String, ?> vars) {
        return JinjaTemplate.compile(source, "t").render(vars);
    }

    private static String render(String source) {
        return render(source, Map.of());
    }

    private static JinjaException failure(String source, Map<String, ?> vars) {
        return assertThrows(JinjaException.class, () -> render(source, vars));
    }

    @Test
    void textPassesThroughUntouched() {
        assertEquals("plain text } { %", render("plain text } { %"));
        assertEquals("", render(""));
    }

    @Test
    void minusStripsAllWhitespaceOnItsSide() {
        // "{%-" eats " \n  " before the tag, "-%}" eats "\n\t " after it.
        assertEquals("ab", render("a \n  {%- if true -%}\n\t b{% endif %}"));
        assertEquals("[x]", render("[\n  {{- 'x' -}}  \n]"));
    }

    @Test
    void trimBlocksRemovesOneNewlineAfterBlockTagsOnly() {
        assertEquals("x\ny\n", render("{% if true %}\nx\n{% endif %}\ny\n\n"));
        // {{ }} keeps the newline after it; the single trailing newline of the source is dropped
        assertEquals("1\n2", render("{{ 1 }}\n{{ 2 }}\n"));
    }

    @Test
    void lstripBlocksRemovesIndentOnlyBeforeBlockTagsAtLineStart() {
        String src = "<\n    {% for i in [1, 2] %}\n    {{ i }}\n    {% endfor %}\n>";
        assertEquals("<\n    1\n    2\n>", render(src));
        assertEquals("x   y", render("x   {% if true %}y{% endif %}"), "not at line start: kept");
        assertEquals("\n  y", render("\n  {%+ if true %}y{% endif %}"), "+ disables lstrip");
    }

    @Test
    void loopVariables() {
        assertEquals("1/3 first|2/3|3/3 last|",
                render("{% for x in xs %}{{ loop.index }}/{{ loop.length }}{% if loop.first %} first{% endif %}"
                        + "{% if loop.last %} last{% endif %}|{% endfor %}", Map.of("xs", List.of("a", "b", "c"))));
        assertEquals("a>b b>c c>", render("{% for x in 'abc' %}{{ x }}>{{ loop.nextitem }}{{ ' ' if not loop.last }}{% endfor %}"));
    }

    @Test
    void setInsideLoopDoesNotLeakButNamespaceDoes() {
        String src = "{% set total = 0 %}{% set ns = namespace(total=0) %}"
                + "{% for n in [1, 2, 3] %}{% set total = total + n %}{% set ns.total = ns.total + n %}{% endfor %}"
                + "{{ total }} {{ ns.total }}";
        assertEquals("0 6", render(src));
    }

    @Test
    void filtersBindTighterThanPlus() {
        assertEquals("<x>", render("{{ '<' + s | trim + '>' }}", Map.of("s", "  x \n")));
    }

    @Test
    void tojsonKeepsUnicodeAndKeyOrder() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("z", "é😀");
        v.put("a", List.of(1, 2.5, true));
        v.put("n", null);
        assertEquals("{\"z\": \"é😀\", \"a\": [1, 2.5, true], \"n\": null}", render("{{ v | tojson }}", Map.of("v", v)));
    }

    @Test
    void pythonStringMethodsCountCodePoints() {
        assertEquals("3 😀 é", render("{{ s | length }} {{ s[-1] }} {{ s[1:2] }}", Map.of("s", "hé😀")));
        assertEquals("[x]", render("[{{ s.strip() }}]", Map.of("s", "\u00a0\u2003x\u3000")), "Python strips no-break spaces");
    }

    @Test
    void undefinedPrintsEmptyButFailsOnUse() {
        assertEquals("[]", render("[{{ nothing }}]"));
        assertEquals("[][0]", render("[{{ d.missing }}][{{ nothing | length }}]", Map.of("d", Map.of())));
        JinjaException e = failure("ok\n{{ nothing.attr }}", Map.of());
        assertEquals(2, e.line());
        assertEquals("'nothing' is undefined", e.detail());
    }

    @Test
    void raiseExceptionCarriesTheTemplateMessageAndLine() {
        JinjaException e = failure("{% for m in msgs %}\n{% if m == 'bad' %}\n{{ raise_exception('bad message: ' + m) }}\n{% endif %}\n{% endfor %}",
                Map.of("msgs", List.of("ok", "bad")));
        assertTrue(e.raisedByTemplate());
        assertEquals("bad message: bad", e.detail());
        assertEquals(3, e.line());
        assertEquals("t line 3: bad message: bad", e.getMessage());
        assertInstanceOf(MoiceException.class, e);
    }

    @Test
    void syntaxErrorsNameTheLine() {
        assertEquals(3, failure("a\nb\n{{ 1 + }}", Map.of()).line());
        JinjaException unclosed = failure("x\n{% for a in b %}\ny", Map.of());
        assertEquals(3, unclosed.line());
        assertTrue(unclosed.detail().contains("'for' block opened on line 2"), unclosed.detail());
        assertEquals(2, failure("{# ok #}\n{% include 'other.jinja' %}", Map.of()).line());
        assertFalse(failure("{% break %}", Map.of()).raisedByTemplate());
    }

    @Test
    void breakAndContinue() {
        assertEquals("13", render("{% for i in range(6) %}{% if i is even %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}"));
    }

    @Test
    void strftimeNowUsesTheGivenClock() {
        Clock clock = Clock.fixed(Instant.parse("2024-07-26T09:05:03Z"), ZoneOffset.UTC);
        assertEquals("26 Jul 2024 / Friday 09:05:03 / 2024-07-26",
                JinjaTemplate.compile("{{ strftime_now('%d %b %Y') }} / {{ strftime_now('%A %H:%M:%S') }} / {{ strftime_now('%Y-%m-%d') }}", "t")
                        .render(Map.of(), clock));
    }

    @Test
    void variablesOfJavaTypesAreConverted() {
        assertEquals("3 2.5 True None x", render("{{ i }} {{ f }} {{ b }} {{ n }} {{ c }}",
                mapOf("i", 3, "f", 2.5f, "b", true, "n", null, "c", 'x')));
        assertThrows(IllegalArgumentException.class, () -> render("{{ o }}", Map.of("o", new Object())));
    }

    private static Map<String, Object> mapOf(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    @Test
    void hostileTemplatesFailCleanly() {
        JinjaException deep = failure("{{ " + "(".repeat(500) + "1" + ")".repeat(500) + " }}", Map.of());
        assertTrue(deep.detail().contains("nests more than"), deep.detail());
        JinjaException notChain = failure("{{ " + "not ".repeat(500) + "x }}", Map.of());
        assertTrue(notChain.detail().contains("nests more than"), notChain.detail());
        JinjaException doubling = failure("{% set ns = namespace(s='ab') %}\n{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", Map.of());
        assertTrue(doubling.detail().contains("too long"), doubling.detail());
        assertEquals(2, doubling.line());
        JinjaException lists = failure("{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", Map.of());
        assertTrue(lists.detail().contains("list too large"), lists.detail());
        assertTrue(failure("{{ 'x' * 100000000 }}", Map.of()).detail().contains("too long"));
        assertTrue(failure("{{ range(1000000) | length }}", Map.of()).detail().contains("MAX_RANGE"));
        assertTrue(failure("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", Map.of()).detail().contains("nested more than"));
        // a long flat chain parses without recursion but evaluates recursively: it either renders or fails cleanly
        String chain = "{{ " + "1 + ".repeat(50_000) + "1 }}";
        try {
            assertEquals("50001", render(chain));
        } catch (JinjaException e) {
            assertTrue(e.detail().contains("too deeply nested"), e.detail());
        }
    }
}
