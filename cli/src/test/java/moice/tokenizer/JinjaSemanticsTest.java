package moice.tokenizer;

import moice.io.Json;
import moice.tokenizer.jinja.JinjaException;
import moice.tokenizer.jinja.JinjaTemplate;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Small templates exercising whitespace control, operators, filters, tests, loops, scoping and errors, each compared
 * with what the jinja2 environment of HF transformers renders (src/test/resources/chat/jinja_semantics.json, written
 * by scripts/reference/make_chat_golden.py). Runtime errors must match jinja2's message and template line; syntax
 * errors must match the line (jinja2's wording for those is not reproduced).
 */
class JinjaSemanticsTest {
    @TestFactory
    Stream<DynamicTest> rendersLikeTransformersJinjaEnvironment() throws Exception {
        Path file = Path.of(JinjaSemanticsTest.class.getResource("/chat/jinja_semantics.json").toURI());
        Map<String, Object> doc = Json.object(Json.parseFile(file), file.toString());
        List<DynamicTest> tests = new ArrayList<>();
        for (Object c : Json.array(doc.get("cases"), "cases")) {
            Map<String, Object> testCase = Json.object(c, "case");
            tests.add(DynamicTest.dynamicTest(Json.string(testCase.get("name"), "name"), () -> check(testCase)));
        }
        assertTrue(tests.size() >= 500, "expected the full semantics set, found " + tests.size());
        return tests.stream();
    }

    private static void check(Map<String, Object> testCase) {
        String source = Json.string(testCase.get("template"), "template");
        Map<String, Object> variables = Json.object(testCase.get("variables"), "variables");
        if (testCase.containsKey("expected")) {
            assertEquals(testCase.get("expected"), JinjaTemplate.compile(source, "t").render(variables));
            return;
        }
        JinjaException e = assertThrows(JinjaException.class, () -> JinjaTemplate.compile(source, "t").render(variables));
        assertEquals(Json.integer(testCase.get("error_line"), "error_line"), e.line(), e.getMessage());
        assertTrue(e.getMessage().startsWith("t line " + e.line() + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
        if (!"TemplateSyntaxError".equals(testCase.get("error_type"))) {
            assertEquals(testCase.get("error"), e.detail());
            assertEquals("TemplateError".equals(testCase.get("error_type")), e.raisedByTemplate());
        }
    }
}
