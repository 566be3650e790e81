package moice.tokenizer.jinja;

/**
 * jinja2's default {@code Undefined}: what a missing variable, attribute or item evaluates to. It prints as "",
 * is false, iterates as empty and has length 0; arithmetic, attribute access, item access and calls on it fail with
 * {@link #message()}, the text jinja2 gives.
 */
final class Undefined {
    private final String message;

    Undefined(String message) {
        this.message = message;
    }

    static Undefined variable(String name) {
        return new Undefined("'" + name + "' is undefined");
    }

    /** Missing attribute or key {@code name} of {@code owner}; jinja2 words int keys and str keys differently. */
    static Undefined member(Object owner, Object name) {
        String ownerText = Values.objectTypeRepr(owner);
        if (name instanceof String s) return new Undefined(PyStrings.repr(ownerText) + " has no attribute " + PyStrings.repr(s));
        return new Undefined(ownerText + " has no element " + Values.repr(name));
    }

    String message() {
        return message;
    }

    TemplateError fail() {
        return new TemplateError(message);
    }

    @Override
    public String toString() {
        return "";
    }
}
