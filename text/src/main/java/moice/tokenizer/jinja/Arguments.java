package moice.tokenizer.jinja;

import java.util.List;
import java.util.Map;

/**
 * Evaluated call arguments, and Python-style binding of them to a parameter list: {@code bind("join", "d",
 * "attribute")} maps positional then keyword arguments to those names and rejects unknown or duplicate ones.
 */
final class Arguments {
    static final Object MISSING = new Object() {
        @Override
        public String toString() {
            return "<missing>";
        }
    };

    final List<Object> positional;
    final Map<String, Object> keywords;

    Arguments(List<Object> positional, Map<String, Object> keywords) {
        this.positional = positional;
        this.keywords = keywords;
    }

    /** Values for {@code names} in order; {@link #MISSING} where not given. */
    Object[] bind(String function, String... names) {
        if (positional.size() > names.length) {
            throw new TemplateError(function + "() takes at most " + names.length + " argument"
                    + (names.length == 1 ? "" : "s") + " (" + positional.size() + " given)");
        }
        Object[] out = new Object[names.length];
        java.util.Arrays.fill(out, MISSING);
        for (int i = 0; i < positional.size(); i++) out[i] = positional.get(i);
        for (Map.Entry<String, Object> kw : keywords.entrySet()) {
            int index = List.of(names).indexOf(kw.getKey());
            if (index < 0) throw new TemplateError(function + "() got an unexpected keyword argument '" + kw.getKey() + "'");
            if (out[index] != MISSING) throw new TemplateError(function + "() got multiple values for argument '" + kw.getKey() + "'");
            out[index] = kw.getValue();
        }
        return out;
    }

    static Object or(Object value, Object fallback) {
        return value == MISSING ? fallback : value;
    }

    void requireNone(String function) {
        if (!positional.isEmpty() || !keywords.isEmpty()) throw new TemplateError(function + "() takes no arguments");
    }
}
