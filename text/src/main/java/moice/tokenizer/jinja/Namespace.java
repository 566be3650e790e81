package moice.tokenizer.jinja;

import java.util.LinkedHashMap;
import java.util.Map;

/** The object {@code namespace(...)} returns: attributes that {@code {% set ns.x = ... %}} may change from any scope. */
final class Namespace {
    final Map<String, Object> attributes = new LinkedHashMap<>();

    /** HF transformers' TemplateNamespace refuses underscore-prefixed names. */
    void set(String name, Object value) {
        if (name.startsWith("_")) {
            throw new TemplateError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got "
                    + PyStrings.repr(name) + ". Please rename the attribute.");
        }
        attributes.put(name, value);
    }

    @Override
    public String toString() {
        return "<Namespace " + Values.repr(attributes) + ">";
    }
}
