package moice.tokenizer;

import moice.MoiceException;
import moice.io.Json;
import moice.tokenizer.jinja.JinjaException;
import moice.tokenizer.jinja.JinjaTemplate;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model's chat template: turns a conversation into the prompt text exactly as HF transformers'
 * {@code tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} does.
 *
 * <p>Contract, mirroring transformers 5.x:
 * <ul>
 *   <li>The template sees {@code messages} (a list of dicts), {@code add_generation_prompt}, {@code tools} and
 *       {@code documents} (None unless given as variables), the special tokens that are set ({@code bos_token},
 *       {@code eos_token}, {@code unk_token}, {@code pad_token}; an unset token is undefined, not ""), and any extra
 *       variables, which override special tokens.</li>
 *   <li>Keys whose value is null are dropped from each message, as transformers does.</li>
 *   <li>An empty conversation is an error, as in transformers.</li>
 *   <li>Errors are {@link MoiceException}s; a template's {@code raise_exception(msg)} gives a {@link JinjaException}
 *       whose {@link JinjaException#detail()} is exactly {@code msg}.</li>
 * </ul>
 * Rendering semantics (jinja2 with trim_blocks and lstrip_blocks, sandboxed) are those of {@link JinjaTemplate}.
 * Instances are immutable and thread-safe.
 */
public final class ChatTemplate {
    /** One chat turn; {@code role} is usually "system", "user" or "assistant". */
    public record Message(String role, String content) {
        public Message {
            Objects.requireNonNull(role, "role");
            Objects.requireNonNull(content, "content");
        }

        public static Message system(String content) {
            return new Message("system", content);
        }

        public static Message user(String content) {
            return new Message("user", content);
        }

        public static Message assistant(String content) {
            return new Message("assistant", content);
        }
    }

    private static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";
    private static final List<String> TOKEN_FIELDS = List.of("bos_token", "eos_token", "unk_token", "pad_token");

    private final String source;
    private final JinjaTemplate template;
    private final Map<String, String> specialTokens;
    private final Clock clock;

    private ChatTemplate(String source, JinjaTemplate template, Map<String, String> specialTokens, Clock clock) {
        this.source = source;
        this.template = template;
        this.specialTokens = specialTokens;
        this.clock = clock;
    }

    /**
     * A template from its jinja source and the special-token strings it may reference; a null token is left
     * undefined in the template, as transformers does for unset tokens.
     *
     * @throws JinjaException when the source does not parse
     */
    public ChatTemplate(String source, String bosToken, String eosToken, String unkToken, String padToken) {
        this(source, "chat template", tokens(bosToken, eosToken, unkToken, padToken));
    }

    private ChatTemplate(String source, String name, Map<String, String> specialTokens) {
        this(source, JinjaTemplate.compile(source, name), specialTokens, Clock.systemDefaultZone());
    }

    private static Map<String, String> tokens(String bos, String eos, String unk, String pad) {
        Map<String, String> m = new LinkedHashMap<>();
        String[] values = {bos, eos, unk, pad};
        for (int i = 0; i < values.length; i++) if (values[i] != null) m.put(TOKEN_FIELDS.get(i), values[i]);
        return m;
    }

    /**
     * Reads the template and special tokens from a HF {@code tokenizer_config.json}. {@code chat_template} may be a
     * string or a list of {@code {"name", "template"}} objects (the one named "default" is used); a
     * {@code chat_template.jinja} file beside the config takes priority, as in transformers. Special tokens may be
     * strings or AddedToken objects ({@code {"content": ...}}).
     *
     * @throws MoiceException when the file is unreadable or malformed, or the model has no chat template
     */
    public static ChatTemplate fromTokenizerConfig(Path tokenizerConfigJson) {
        Map<String, Object> config = Json.object(Json.parseFile(tokenizerConfigJson), tokenizerConfigJson.toString());
        Map<String, String> tokens = new LinkedHashMap<>();
        for (String field : TOKEN_FIELDS) {
            String value = tokenString(config.get(field), tokenizerConfigJson + ": " + field);
            if (value != null) tokens.put(field, value);
        }
        Path sibling = tokenizerConfigJson.resolveSibling(CHAT_TEMPLATE_FILE);
        if (Files.isRegularFile(sibling)) {
            return new ChatTemplate(readTemplateFile(sibling), sibling.toString(), tokens);
        }
        String what = tokenizerConfigJson + ": chat_template";
        Object raw = config.get("chat_template");
        if (raw == null) {
            throw new MoiceException(tokenizerConfigJson + ": no chat_template (and no " + CHAT_TEMPLATE_FILE
                    + " beside it); this model has no chat template, so chat mode cannot format prompts for it");
        }
        if (raw instanceof String s) return new ChatTemplate(s, what, tokens);
        List<String> names = new ArrayList<>();
        for (Object entry : Json.array(raw, what)) {
            Map<String, Object> named = Json.object(entry, what + "[]");
            String name = Json.string(named.get("name"), what + "[].name");
            names.add(name);
            if (name.equals("default")) {
                return new ChatTemplate(Json.string(named.get("template"), what + "[default].template"),
                        what + "[default]", tokens);
            }
        }
        throw new MoiceException(what + ": expected a string or a list with a template named \"default\", found names " + names);
    }

    private static String readTemplateFile(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new MoiceException(file + ": not valid UTF-8", e);
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e, e);
        }
    }

    private static String tokenString(Object v, String what) {
        if (v == null) return null;
        if (v instanceof String s) return s;
        if (v instanceof Map<?, ?> m && m.get("content") instanceof String s) return s;
        throw new MoiceException(what + ": expected a string or an object with a string \"content\", found " + Json.typeName(v));
    }

    /** The same template with {@code strftime_now} reading {@code clock} (for reproducible dates). */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, template, specialTokens, Objects.requireNonNull(clock));
    }

    /** Renders {@code messages}; see the class contract. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** Renders {@code messages} with extra template variables (for example {@code tools}: a list of JSON schemas). */
    public String render(List<Message> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        List<Map<String, Object>> dicts = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("role", m.role());
            d.put("content", m.content());
            dicts.add(d);
        }
        return renderMessages(dicts, addGenerationPrompt, variables);
    }

    /**
     * Renders structured messages (maps that may hold {@code tool_calls}, {@code tool_call_id} or content lists, as
     * OpenAI-style APIs send them).
     */
    public String renderMessages(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
                                 Map<String, ?> variables) {
        if (messages.isEmpty()) {
            throw new MoiceException("Cannot apply chat template to an empty conversation. Provide at least one message.");
        }
        for (String reserved : List.of("messages", "add_generation_prompt")) {
            if (variables.containsKey(reserved)) {
                throw new MoiceException("chat template variable '" + reserved + "' is set by the renderer and cannot be passed");
            }
        }
        List<Map<String, Object>> conversation = new ArrayList<>(messages.size());
        for (Map<String, ?> m : messages) {
            Map<String, Object> copy = new LinkedHashMap<>();
            m.forEach((k, v) -> {
                if (v != null) copy.put(k, v);
            });
            conversation.add(copy);
        }
        Map<String, Object> vars = new LinkedHashMap<>(specialTokens);
        vars.put("tools", null);
        vars.put("documents", null);
        vars.putAll(variables);
        vars.put("messages", conversation);
        vars.put("add_generation_prompt", addGenerationPrompt);
        try {
            return template.render(vars, clock);
        } catch (IllegalArgumentException e) {
            throw new MoiceException("chat template variables: " + e.getMessage(), e);
        }
    }

    /** The jinja source. */
    public String source() {
        return source;
    }

    /** The special tokens the template sees, by field name ({@code bos_token}, ...); unset ones are absent. */
    public Map<String, String> specialTokens() {
        return java.util.Collections.unmodifiableMap(specialTokens);
    }
}
