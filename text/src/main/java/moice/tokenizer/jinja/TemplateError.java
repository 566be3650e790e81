package moice.tokenizer.jinja;

/**
 * An error found while evaluating, before its template line is known. The interpreter catches it at the innermost
 * expression or statement that has a line and rethrows it as a {@link JinjaException}.
 */
final class TemplateError extends RuntimeException {
    final boolean raisedByTemplate;

    TemplateError(String detail) {
        this(detail, false);
    }

    TemplateError(String detail, boolean raisedByTemplate) {
        super(detail, null, false, false);
        this.raisedByTemplate = raisedByTemplate;
    }
}
