package moice.tokenizer.jinja;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Splits template source into tokens the way jinja2's lexer does with {@code trim_blocks=True, lstrip_blocks=True}
 * (the configuration HF transformers uses for chat templates):
 * <ul>
 *   <li>newlines ({@code \r\n}, {@code \r}, {@code \n}) become {@code \n} and one trailing newline is dropped;</li>
 *   <li>{@code {%-}, {@code {{-}, {@code {#-} strip all whitespace before the tag, {@code -%}}, {@code -}}}, {@code -#}}
 *       all whitespace after it;</li>
 *   <li>lstrip_blocks: spaces and tabs between a line start and a {@code {%} or {@code {#} tag are removed unless the
 *       tag starts with {@code +};</li>
 *   <li>trim_blocks: the first newline after {@code %}} or {@code #}} is removed unless the tag ends with {@code +}.</li>
 * </ul>
 * Comments are dropped; {@code {% raw %}...{% endraw %}} becomes text.
 */
final class Lexer {
    enum Kind { TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INTEGER, FLOAT, OP, EOF }

    /** {@code value} is the decoded literal for STRING/INTEGER/FLOAT, the text otherwise. */
    record Token(Kind kind, String text, Object value, int line) {
        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }

        boolean isName(String t) {
            return is(Kind.NAME, t);
        }

        boolean isOp(String t) {
            return is(Kind.OP, t);
        }

        String describe() {
            return switch (kind) {
                case EOF -> "end of template";
                case VAR_END, BLOCK_END -> "end of tag '" + text + "'";
                case STRING -> "string";
                default -> "'" + text + "'";
            };
        }
    }

    private static final String[] OPERATORS = {
        "**", "//", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

    private final String src;
    private final String templateName;
    private final List<Token> tokens = new ArrayList<>();
    private int pos;
    private int line = 1;
    /** jinja2's {@code line_starting}: the previous match ended with a newline (or nothing was matched yet). */
    private boolean lineStarting = true;

    private Lexer(String source, String templateName) {
        this.src = normalizeNewlines(source);
        this.templateName = templateName;
    }

    static List<Token> tokenize(String source, String templateName) {
        Lexer lexer = new Lexer(source, templateName);
        lexer.run();
        return lexer.tokens;
    }

    /** All newline styles become {@code \n}; one trailing newline is dropped (jinja2's keep_trailing_newline=False). */
    static String normalizeNewlines(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\r') {
                sb.append('\n');
                if (i + 1 < s.length() && s.charAt(i + 1) == '\n') i++;
            } else {
                sb.append(c);
            }
        }
        if (sb.length() > 0 && sb.charAt(sb.length() - 1) == '\n') sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    private JinjaException error(String detail) {
        return new JinjaException(templateName, line, detail, false);
    }

    private void run() {
        while (pos < src.length()) {
            int tag = nextTagStart(pos);
            if (tag < 0) {
                emitText(src.substring(pos), src.substring(pos));
                pos = src.length();
                break;
            }
            char type = src.charAt(tag + 1);
            int afterDelim = tag + 2;
            char sign = afterDelim < src.length() ? src.charAt(afterDelim) : 0;
            if (sign != '-' && sign != '+') sign = 0;
            String original = src.substring(pos, tag);
            String text = applyLeftWhitespaceControl(original, sign, type != '{');
            int tagBodyStart = afterDelim + (sign != 0 ? 1 : 0);
            if (type == '%' && isRawStart(tagBodyStart)) {
                emitText(text, original);
                pos = tag;
                lexRaw(tagBodyStart);
                continue;
            }
            emitText(text, original);
            pos = tagBodyStart;
            lineStarting = false;
            switch (type) {
                case '#' -> lexComment();
                case '%' -> {
                    tokens.add(new Token(Kind.BLOCK_BEGIN, "{%", "{%", line));
                    lexExpressionTokens(true);
                }
                default -> {
                    tokens.add(new Token(Kind.VAR_BEGIN, "{{", "{{", line));
                    lexExpressionTokens(false);
                }
            }
        }
        tokens.add(new Token(Kind.EOF, "", "", line));
    }

    /** Position of the next {@code {{}, {@code {%} or {@code {#} at or after {@code from}, or -1. */
    private int nextTagStart(int from) {
        for (int i = from; i + 1 < src.length(); i++) {
            if (src.charAt(i) == '{') {
                char c = src.charAt(i + 1);
                if (c == '{' || c == '%' || c == '#') return i;
            }
        }
        return -1;
    }

    private String applyLeftWhitespaceControl(String text, char sign, boolean lstripApplies) {
        if (sign == '-') return PyStrings.rstrip(text, null);
        if (sign != '+' && lstripApplies) {
            int lineStart = text.lastIndexOf('\n') + 1;
            if ((lineStart > 0 || lineStarting) && lineStart < text.length()
                    && PyStrings.isAllWhitespace(text, lineStart)) {
                return text.substring(0, lineStart);
            }
        }
        return text;
    }

    /** Emits text (if not empty) and advances the line counter over the original, unstripped text. */
    private void emitText(String text, String original) {
        if (!text.isEmpty()) tokens.add(new Token(Kind.TEXT, text, text, line));
        line += count(original, '\n');
    }

    private static int count(String s, char c) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) == c) n++;
        return n;
    }

    private int skipWhitespace(int i) {
        while (i < src.length() && PyStrings.isWhitespace(src.charAt(i))) i++;
        return i;
    }

    private boolean isRawStart(int bodyStart) {
        int i = skipWhitespace(bodyStart);
        if (!src.startsWith("raw", i)) return false;
        i = skipWhitespace(i + 3);
        return src.startsWith("-%}", i) || src.startsWith("%}", i);
    }

    /** {@code {% raw %}...{% endraw %}}: the body is text; the opening tag does not trim a following newline. */
    private void lexRaw(int bodyStart) {
        int i = skipWhitespace(skipWhitespace(bodyStart) + 3);
        int afterOpen;
        if (src.startsWith("-%}", i)) afterOpen = skipWhitespace(i + 3);
        else afterOpen = i + 2;
        line += count(src.substring(pos, afterOpen), '\n');
        lineStarting = src.charAt(afterOpen - 1) == '\n';
        int search = afterOpen;
        while (true) {
            int tag = src.indexOf("{%", search);
            if (tag < 0) throw error("Missing end of raw directive");
            int j = tag + 2;
            char sign = j < src.length() ? src.charAt(j) : 0;
            if (sign == '-' || sign == '+') j++;
            else sign = 0;
            j = skipWhitespace(j);
            if (!src.startsWith("endraw", j)) {
                search = tag + 2;
                continue;
            }
            j = skipWhitespace(j + 6);
            int end = blockEnd(j);
            if (end < 0) {
                search = tag + 2;
                continue;
            }
            String original = src.substring(afterOpen, tag);
            emitText(applyLeftWhitespaceControl(original, sign, true), original);
            line += count(src.substring(tag, end), '\n');
            lineStarting = src.charAt(end - 1) == '\n';
            pos = end;
            return;
        }
    }

    /** If a block end ({@code +%}}, {@code -%}} or {@code %}}) starts at i, the position after it; else -1. */
    private int blockEnd(int i) {
        if (src.startsWith("+%}", i)) return i + 3;
        if (src.startsWith("-%}", i)) return skipWhitespace(i + 3);
        if (src.startsWith("%}", i)) {
            int end = i + 2;
            if (end < src.length() && src.charAt(end) == '\n') end++; // trim_blocks
            return end;
        }
        return -1;
    }

    private int variableEnd(int i) {
        if (src.startsWith("-}}", i)) return skipWhitespace(i + 3);
        if (src.startsWith("}}", i)) return i + 2;
        return -1;
    }

    private void lexComment() {
        int startLine = line;
        for (int i = pos; i < src.length(); i++) {
            int end = -1;
            if (src.startsWith("+#}", i)) end = i + 3;
            else if (src.startsWith("-#}", i)) end = skipWhitespace(i + 3);
            else if (src.startsWith("#}", i)) {
                end = i + 2;
                if (end < src.length() && src.charAt(end) == '\n') end++; // trim_blocks applies to comments too
            }
            if (end >= 0) {
                line += count(src.substring(pos, end), '\n');
                lineStarting = src.charAt(end - 1) == '\n';
                pos = end;
                return;
            }
        }
        line = startLine;
        throw error("Missing end of comment tag");
    }

    /** Tokens of an expression up to the closing delimiter, which counts only when brackets are balanced. */
    private void lexExpressionTokens(boolean block) {
        Deque<Character> balance = new ArrayDeque<>();
        while (true) {
            if (pos >= src.length()) {
                throw error("unexpected end of template, expected end of " + (block ? "block '%}'" : "print '}}'"));
            }
            if (balance.isEmpty()) {
                int end = block ? blockEnd(pos) : variableEnd(pos);
                if (end >= 0) {
                    tokens.add(new Token(block ? Kind.BLOCK_END : Kind.VAR_END, block ? "%}" : "}}", null, line));
                    line += count(src.substring(pos, end), '\n');
                    lineStarting = src.charAt(end - 1) == '\n';
                    pos = end;
                    return;
                }
            }
            char c = src.charAt(pos);
            if (PyStrings.isWhitespace(c)) {
                int end = skipWhitespace(pos);
                line += count(src.substring(pos, end), '\n');
                pos = end;
                continue;
            }
            if (lexNumber()) continue;
            if (Character.isLetter(c) || c == '_') {
                int end = pos + 1;
                while (end < src.length() && (Character.isLetterOrDigit(src.charAt(end)) || src.charAt(end) == '_')) end++;
                String name = src.substring(pos, end);
                tokens.add(new Token(Kind.NAME, name, name, line));
                pos = end;
                continue;
            }
            if (c == '\'' || c == '"') {
                lexString(c);
                continue;
            }
            String op = matchOperator();
            if (op == null) throw error("unexpected char '" + c + "' at " + pos);
            switch (op) {
                case "(" -> balance.push(')');
                case "[" -> balance.push(']');
                case "{" -> balance.push('}');
                case ")", "]", "}" -> {
                    if (balance.isEmpty()) throw error("unexpected '" + op + "'");
                    char expected = balance.pop();
                    if (expected != op.charAt(0)) throw error("unexpected '" + op + "', expected '" + expected + "'");
                }
                default -> { }
            }
            tokens.add(new Token(Kind.OP, op, op, line));
            pos += op.length();
        }
    }

    private String matchOperator() {
        for (String op : OPERATORS) if (src.startsWith(op, pos)) return op;
        return null;
    }

    /** Digits with single underscores between them, starting at i; returns the end or -1. */
    private int digits(int i) {
        if (i >= src.length() || !isDigit(src.charAt(i))) return -1;
        i++;
        while (i < src.length()) {
            char c = src.charAt(i);
            if (isDigit(c)) i++;
            else if (c == '_' && i + 1 < src.length() && isDigit(src.charAt(i + 1))) i += 2;
            else break;
        }
        return i;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private int exponent(int i) {
        if (i >= src.length() || (src.charAt(i) != 'e' && src.charAt(i) != 'E')) return -1;
        int j = i + 1;
        if (j < src.length() && (src.charAt(j) == '+' || src.charAt(j) == '-')) j++;
        return digits(j);
    }

    private boolean lexNumber() {
        if (!isDigit(src.charAt(pos))) return false;
        int intEnd = digits(pos);
        // float: digits ('.' digits)? exponent | digits '.' digits; not directly after a dot (jinja2's (?<!\.))
        if (pos == 0 || src.charAt(pos - 1) != '.') {
            int end = -1;
            if (intEnd < src.length() && src.charAt(intEnd) == '.') {
                int fracEnd = digits(intEnd + 1);
                if (fracEnd >= 0) {
                    int expEnd = exponent(fracEnd);
                    end = expEnd >= 0 ? expEnd : fracEnd;
                }
            } else {
                end = exponent(intEnd);
            }
            if (end >= 0) {
                String text = src.substring(pos, end);
                tokens.add(new Token(Kind.FLOAT, text, Double.parseDouble(text.replace("_", "")), line));
                pos = end;
                return true;
            }
        }
        int end;
        int radix = 10;
        int prefix = 0;
        char second = pos + 1 < src.length() ? Character.toLowerCase(src.charAt(pos + 1)) : 0;
        if (src.charAt(pos) == '0' && (second == 'b' || second == 'o' || second == 'x')) {
            int r = second == 'b' ? 2 : second == 'o' ? 8 : 16;
            int i = pos + 2;
            while (i < src.length()) {
                char c = src.charAt(i);
                if (c == '_' && i + 1 < src.length() && Character.digit(src.charAt(i + 1), r) >= 0) i += 2;
                else if (Character.digit(c, r) >= 0) i++;
                else break;
            }
            if (i > pos + 2) {
                radix = r;
                prefix = 2;
                end = i;
            } else {
                end = pos + 1; // a lone "0"; the letter becomes a name
            }
        } else if (src.charAt(pos) == '0') {
            int i = pos + 1; // jinja2: 0(_?0)*
            while (i < src.length() && (src.charAt(i) == '0' || (src.charAt(i) == '_' && i + 1 < src.length() && src.charAt(i + 1) == '0'))) i++;
            end = i;
        } else {
            end = intEnd;
        }
        String text = src.substring(pos, end);
        long value;
        try {
            value = Long.parseLong(text.substring(prefix).replace("_", ""), radix);
        } catch (NumberFormatException e) {
            throw error("integer literal too large: " + text);
        }
        tokens.add(new Token(Kind.INTEGER, text, value, line));
        pos = end;
        return true;
    }

    private void lexString(char quote) {
        int i = pos + 1;
        while (i < src.length()) {
            char c = src.charAt(i);
            if (c == '\\') {
                i += 2;
            } else if (c == quote) {
                String raw = src.substring(pos + 1, i);
                String value;
                try {
                    value = PyStrings.unescape(raw);
                } catch (IllegalArgumentException e) {
                    throw error(e.getMessage());
                }
                tokens.add(new Token(Kind.STRING, src.substring(pos, i + 1), value, line));
                line += count(raw, '\n');
                pos = i + 1;
                return;
            } else {
                i++;
            }
        }
        throw error("unexpected char '" + quote + "' at " + pos);
    }
}
