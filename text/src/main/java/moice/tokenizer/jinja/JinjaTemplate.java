package moice.tokenizer.jinja;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled jinja2 template, rendered with the semantics HF transformers uses for chat templates: jinja2's
 * ImmutableSandboxedEnvironment with {@code trim_blocks=True}, {@code lstrip_blocks=True}, the loop-controls extension
 * ({@code break}/{@code continue}), HF's {@code {% generation %}} tag (rendered as its body), the globals
 * {@code raise_exception}, {@code strftime_now}, {@code namespace}, {@code dict}, {@code range}, and a {@code tojson}
 * filter that keeps non-ASCII text and key order.
 *
 * <p>Supported: text, {@code {{ }}}, {@code {% %}}, {@code {# #}}, {@code -}/{@code +} whitespace control,
 * {@code raw}, {@code if/elif/else}, {@code for} (with {@code else}, an {@code if} filter, tuple unpacking and the
 * {@code loop} variable), {@code set} (names, tuples, {@code ns.attr}, block form), {@code macro} (defaults,
 * keyword arguments, {@code varargs}/{@code kwargs}, recursion), literals, attribute/item access, slicing, calls with
 * keyword arguments, all jinja2 operators, the common filters and tests, and the Python string and dict methods
 * templates call, including printf-style {@code %} on strings. Not supported: call blocks ({@code caller()}),
 * {@code include}/{@code import}/{@code extends}, {@code with}, filter blocks and recursive loops; they fail with a
 * {@link JinjaException} naming the line.
 *
 * <p>Instances are immutable and thread-safe; each render works on its own state.
 */
public final class JinjaTemplate {
    private final String name;
    private final List<Ast.Stmt> body;

    private JinjaTemplate(String name, List<Ast.Stmt> body) {
        this.name = name;
        this.body = body;
    }

    /**
     * Parses {@code source}; {@code name} labels error messages (for example "tokenizer_config.json chat_template").
     *
     * @throws JinjaException on a syntax error, naming the line
     */
    public static JinjaTemplate compile(String source, String name) {
        try {
            return new JinjaTemplate(name, Parser.parse(source, name));
        } catch (StackOverflowError e) {
            throw new JinjaException(name, 1, "template too deeply nested to parse", false);
        }
    }

    /** Renders with the system clock (only {@code strftime_now} reads it). */
    public String render(Map<String, ?> variables) {
        return render(variables, Clock.systemDefaultZone());
    }

    /**
     * Renders with {@code variables} as the template's top-level names. Values may be null, String, Boolean, any
     * Java integer or floating type, List and Map (nested freely); they are copied, never modified.
     *
     * @throws JinjaException when evaluation fails or the template calls {@code raise_exception}
     * @throws IllegalArgumentException when a variable has a type templates cannot see
     */
    public String render(Map<String, ?> variables, Clock clock) {
        Map<String, Object> vars = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : variables.entrySet()) vars.put(e.getKey(), Values.fromJava(e.getValue()));
        try {
            return new Interpreter(name, Globals.create(clock), vars).render(body);
        } catch (StackOverflowError e) {
            // very long operator chains ("1 + 1 + ... + 1") build deep trees without deep parser recursion
            throw new JinjaException(name, 1, "template expression too deeply nested to evaluate", false);
        }
    }

    public String name() {
        return name;
    }
}
