package moice.tokenizer;

import moice.MoiceException;
import moice.io.Json;
import moice.tokenizer.jinja.JinjaException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every case in src/test/resources/chat/<family>/golden.json, rendered from that family's real tokenizer_config.json,
 * must equal HF transformers' apply_chat_template output byte for byte (or fail with the same template error).
 * The goldens come from scripts/reference/make_chat_golden.py.
 */
class ChatTemplateGoldenTest {
    private static final List<String> FAMILIES = List.of("llama2-chat", "llama3-instruct", "mistral-v0.1",
            "mistral-v0.2", "mistral-v0.3", "qwen2-instruct", "smollm2-instruct");

    private static Path chatResources() throws URISyntaxException {
        return Path.of(ChatTemplateGoldenTest.class.getResource("/chat").toURI());
    }

    @TestFactory
    Stream<DynamicTest> everyGoldenCaseMatchesTransformers() throws Exception {
        Path root = chatResources();
        List<DynamicTest> tests = new ArrayList<>();
        for (String family : FAMILIES) {
            Path dir = root.resolve(family);
            ChatTemplate template = ChatTemplate.fromTokenizerConfig(dir.resolve("tokenizer_config.json"));
            Map<String, Object> golden = Json.object(Json.parseFile(dir.resolve("golden.json")), family);
            tests.add(DynamicTest.dynamicTest(family + ": special tokens as transformers loads them", () ->
                    assertEquals(golden.get("special_tokens"), template.specialTokens())));
            for (Object c : Json.array(golden.get("cases"), family + " cases")) {
                Map<String, Object> testCase = Json.object(c, family + " case");
                String name = family + ": " + testCase.get("name");
                tests.add(DynamicTest.dynamicTest(name, () -> check(template, testCase)));
            }
        }
        assertTrue(tests.size() > 80, "expected the full golden set, found " + tests.size() + " tests");
        return tests.stream();
    }

    @SuppressWarnings("unchecked")
    private static void check(ChatTemplate template, Map<String, Object> testCase) {
        List<Map<String, Object>> messages = (List<Map<String, Object>>) (List<?>) Json.array(testCase.get("messages"), "messages");
        boolean addGenerationPrompt = Json.bool(testCase.get("add_generation_prompt"), "add_generation_prompt");
        Map<String, Object> variables = testCase.containsKey("variables")
                ? Json.object(testCase.get("variables"), "variables") : Map.of();
        List<ChatTemplate.Message> plain = plainMessages(messages);
        if (testCase.containsKey("expected")) {
            String expected = Json.string(testCase.get("expected"), "expected");
            assertEquals(expected, template.renderMessages(messages, addGenerationPrompt, variables));
            if (plain != null) assertEquals(expected, template.render(plain, addGenerationPrompt, variables));
            return;
        }
        String error = Json.string(testCase.get("error"), "error");
        MoiceException e = assertThrows(MoiceException.class,
                () -> template.renderMessages(messages, addGenerationPrompt, variables));
        if ("TemplateError".equals(testCase.get("error_type"))) {
            JinjaException je = assertInstanceOf(JinjaException.class, e);
            assertTrue(je.raisedByTemplate(), je.getMessage());
            assertEquals(error, je.detail());
            assertEquals(Json.integer(testCase.get("error_line"), "error_line"), je.line(), "template line of the error");
        } else {
            assertFalse(e instanceof JinjaException, e.getMessage());
            assertEquals(error, e.getMessage());
        }
        if (plain != null) {
            MoiceException again = assertThrows(MoiceException.class, () -> template.render(plain, addGenerationPrompt, variables));
            assertEquals(e.getMessage(), again.getMessage());
        }
    }

    /** The messages as plain role/content records, or null when some message carries more than that. */
    private static List<ChatTemplate.Message> plainMessages(List<Map<String, Object>> messages) {
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (Map<String, Object> m : messages) {
            if (m.size() != 2 || !(m.get("role") instanceof String role) || !(m.get("content") instanceof String content)) {
                return null;
            }
            out.add(new ChatTemplate.Message(role, content));
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> fixturesRecordTheirProvenance() throws Exception {
        Path root = chatResources();
        List<DynamicTest> tests = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                tests.add(DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
                    Map<String, Object> config = Json.object(Json.parseFile(dir.resolve("tokenizer_config.json")), "config");
                    assertTrue(Json.string(config.get("_provenance"), "_provenance").length() > 40);
                    assertTrue(Files.isRegularFile(dir.resolve("golden.json")));
                    assertTrue(FAMILIES.contains(dir.getFileName().toString()), "family not listed in FAMILIES: " + dir);
                }));
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return tests.stream();
    }
}
