package moice.tokenizer.jinja;

import moice.MoiceException;

/**
 * A template could not be parsed or rendered. The message is one line: {@code "<template name> line N: <detail>"}.
 * {@link #detail()} is the bare reason; for a template's own {@code raise_exception(msg)} it is exactly {@code msg}
 * (what HF transformers reports as the {@code TemplateError} text), and {@link #raisedByTemplate()} is true.
 */
public final class JinjaException extends MoiceException {
    private final String templateName;
    private final int line;
    private final String detail;
    private final boolean raisedByTemplate;

    JinjaException(String templateName, int line, String detail, boolean raisedByTemplate) {
        super(templateName + " line " + line + ": " + detail);
        this.templateName = templateName;
        this.line = line;
        this.detail = detail;
        this.raisedByTemplate = raisedByTemplate;
    }

    /** The name the template was compiled under (a file and field, usually). */
    public String templateName() {
        return templateName;
    }

    /** 1-based line of the template where the problem is. */
    public int line() {
        return line;
    }

    /** The reason without location. */
    public String detail() {
        return detail;
    }

    /** True when the template itself called {@code raise_exception(...)}. */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
