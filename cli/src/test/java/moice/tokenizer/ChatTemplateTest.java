package moice.tokenizer;

import moice.MoiceException;
import moice.tokenizer.ChatTemplate.Message;
import moice.tokenizer.jinja.JinjaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ChatTemplate contract: reading tokenizer_config.json and what the template sees. */
class ChatTemplateTest {
    @TempDir
    Path dir;

    private Path config(String json) throws IOException {
        Path file = dir.resolve("tokenizer_config.json");
        Files.writeString(file, json);
        return file;
    }

    private static final List<Message> HELLO = List.of(Message.user("hi"));

    @Test
    void namedTemplateListUsesDefault() throws IOException {
        Path file = config("""
                {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
                 "eos_token": "</s>",
                 "chat_template": [{"name": "tool_use", "template": "TOOLS"},
                                   {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}]}
                """);
        ChatTemplate t = ChatTemplate.fromTokenizerConfig(file);
        assertEquals("<s>hi</s>", t.render(HELLO, true));
        assertEquals(Map.of("bos_token", "<s>", "eos_token", "</s>"), t.specialTokens());
    }

    @Test
    void namedTemplateListWithoutDefaultIsAnError() throws IOException {
        Path file = config("{\"chat_template\": [{\"name\": \"rag\", \"template\": \"x\"}]}");
        MoiceException e = assertThrows(MoiceException.class, () -> ChatTemplate.fromTokenizerConfig(file));
        assertTrue(e.getMessage().contains("chat_template") && e.getMessage().contains("[rag]"), e.getMessage());
    }

    @Test
    void chatTemplateJinjaFileTakesPriority() throws IOException {
        Path file = config("{\"eos_token\": \"E\", \"chat_template\": \"from config\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "from file {{ eos_token }}\n");
        assertEquals("from file E", ChatTemplate.fromTokenizerConfig(file).render(HELLO, false));
    }

    @Test
    void missingTemplateSaysSo() throws IOException {
        Path file = config("{\"bos_token\": \"<s>\"}");
        MoiceException e = assertThrows(MoiceException.class, () -> ChatTemplate.fromTokenizerConfig(file));
        assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains("no chat_template"), e.getMessage());
    }

    @Test
    void malformedConfigsAreUserErrors() throws IOException {
        assertThrows(MoiceException.class, () -> ChatTemplate.fromTokenizerConfig(config("{\"chat_template\": ")));
        MoiceException badToken = assertThrows(MoiceException.class,
                () -> ChatTemplate.fromTokenizerConfig(config("{\"chat_template\": \"x\", \"eos_token\": 5}")));
        assertTrue(badToken.getMessage().contains("eos_token"), badToken.getMessage());
        assertThrows(MoiceException.class, () -> ChatTemplate.fromTokenizerConfig(config("{\"chat_template\": 3}")));
        assertThrows(MoiceException.class, () -> ChatTemplate.fromTokenizerConfig(dir.resolve("absent.json")));
    }

    @Test
    void syntaxErrorNamesFileFieldAndLine() throws IOException {
        Path file = config("{\"chat_template\": \"ok\\n{% if %}\"}");
        JinjaException e = assertThrows(JinjaException.class, () -> ChatTemplate.fromTokenizerConfig(file));
        assertEquals(2, e.line());
        assertTrue(e.getMessage().startsWith(file + ": chat_template line 2: "), e.getMessage());
    }

    @Test
    void unsetTokensAreUndefinedAndToolsDefaultToNone() {
        ChatTemplate t = new ChatTemplate(
                "{{ bos_token is defined }} {{ eos_token }} {{ tools is none }} {{ documents is none }} {{ add_generation_prompt }}",
                null, "</s>", null, null);
        assertEquals("False </s> True True True", t.render(HELLO, true));
        assertEquals("False </s> False True False", t.render(HELLO, false, Map.of("tools", List.of(Map.of("type", "function")))));
    }

    @Test
    void variablesOverrideSpecialTokensButNotTheConversation() {
        ChatTemplate t = new ChatTemplate("{{ eos_token }}", "<s>", "</s>", null, null);
        assertEquals("<|eot|>", t.render(HELLO, true, Map.of("eos_token", "<|eot|>")));
        assertThrows(MoiceException.class, () -> t.render(HELLO, true, Map.of("messages", List.of())));
        assertThrows(MoiceException.class, () -> t.render(HELLO, true, Map.of("add_generation_prompt", false)));
    }

    @Test
    void nullValuedMessageKeysAreDropped() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content is defined }};{% endfor %}",
                null, null, null, null);
        Map<String, Object> toolCall = new HashMap<>();
        toolCall.put("role", "assistant");
        toolCall.put("content", null);
        assertEquals("assistant:False;", t.renderMessages(List.of(toolCall), false, Map.of()));
    }

    @Test
    void emptyConversationIsRejectedLikeTransformers() {
        ChatTemplate t = new ChatTemplate("x", null, null, null, null);
        MoiceException e = assertThrows(MoiceException.class, () -> t.render(List.of(), true));
        assertEquals("Cannot apply chat template to an empty conversation. Provide at least one message.", e.getMessage());
    }

    @Test
    void messagesNeedRoleAndContent() {
        assertThrows(NullPointerException.class, () -> new Message(null, "x"));
        assertThrows(NullPointerException.class, () -> new Message("user", null));
        assertEquals(new Message("system", "s"), Message.system("s"));
        assertEquals(new Message("assistant", "a"), Message.assistant("a"));
    }

    @Test
    void strftimeNowReadsTheConfiguredClock() {
        ChatTemplate t = new ChatTemplate("Today Date: {{ strftime_now('%d %b %Y') }}", null, null, null, null)
                .withClock(Clock.fixed(Instant.parse("2025-01-05T23:59:00Z"), ZoneOffset.UTC));
        assertEquals("Today Date: 05 Jan 2025", t.render(HELLO, true));
    }

    @Test
    void unsupportedVariableTypesAreUserErrors() {
        ChatTemplate t = new ChatTemplate("{{ x }}", null, null, null, null);
        assertThrows(MoiceException.class, () -> t.render(HELLO, true, Map.of("x", new StringBuilder("no"))));
    }
}
