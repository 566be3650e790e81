package moice.tokenizer;

import moice.MoiceException;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Translates the Oniguruma regular expressions found in {@code tokenizer.json} (HF tokenizers compiles them with the
 * Rust {@code onig} crate) into {@link java.util.regex.Pattern}s that match the same text.
 *
 * <p>Both engines are backtracking, leftmost-first, so alternation, lazy/possessive quantifiers and look-arounds carry
 * over. What differs and is rewritten here: {@code \s \d \w \h \v} and POSIX brackets (Oniguruma's are Unicode-aware,
 * with its own definition of a word character), {@code \p{...}} names (long category names, scripts, {@code \p{^X}}),
 * {@code ^ $} (line anchors in Oniguruma, only {@code \n} ends a line), {@code (?m)} (dot-all in Oniguruma),
 * {@code {,n}} and literal braces, {@code []...]} and {@code (?#...)} comments. Case-insensitive groups use Unicode case
 * folding of single characters (as Oniguruma does for these patterns; multi-character folds such as ß/ss are not
 * applied by either).
 */
final class OnigRegex {
    private OnigRegex() {
    }

    private static final int FLAGS = Pattern.MULTILINE | Pattern.UNIX_LINES | Pattern.UNICODE_CASE;

    /** Oniguruma's {@code \w} as measured against HF tokenizers: Alphabetic, marks, Nd, Pc (no Join_Control). */
    private static final String WORD_IN_CLASS = "\\p{IsAlphabetic}\\p{M}\\p{Nd}\\p{Pc}";
    /** Outside a bracket Oniguruma also counts the Latin-1 numbers ² ³ ¹ ¼ ½ ¾ as word characters. */
    private static final String WORD_EXTRA_LATIN1 = "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";

    private static final Map<String, String> CATEGORIES = Map.ofEntries(
            Map.entry("l", "L"), Map.entry("letter", "L"), Map.entry("lu", "Lu"), Map.entry("uppercaseletter", "Lu"),
            Map.entry("ll", "Ll"), Map.entry("lowercaseletter", "Ll"), Map.entry("lt", "Lt"),
            Map.entry("titlecaseletter", "Lt"), Map.entry("lm", "Lm"), Map.entry("modifierletter", "Lm"),
            Map.entry("lo", "Lo"), Map.entry("otherletter", "Lo"), Map.entry("lc", "LC"),
            Map.entry("casedletter", "LC"),
            Map.entry("m", "M"), Map.entry("mark", "M"), Map.entry("combiningmark", "M"), Map.entry("mn", "Mn"),
            Map.entry("nonspacingmark", "Mn"), Map.entry("mc", "Mc"), Map.entry("spacingmark", "Mc"),
            Map.entry("me", "Me"), Map.entry("enclosingmark", "Me"),
            Map.entry("n", "N"), Map.entry("number", "N"), Map.entry("nd", "Nd"), Map.entry("decimalnumber", "Nd"),
            Map.entry("digit", "Nd"), Map.entry("nl", "Nl"), Map.entry("letternumber", "Nl"), Map.entry("no", "No"),
            Map.entry("othernumber", "No"),
            Map.entry("p", "P"), Map.entry("punctuation", "P"), Map.entry("pc", "Pc"),
            Map.entry("connectorpunctuation", "Pc"), Map.entry("pd", "Pd"), Map.entry("dashpunctuation", "Pd"),
            Map.entry("ps", "Ps"), Map.entry("openpunctuation", "Ps"), Map.entry("pe", "Pe"),
            Map.entry("closepunctuation", "Pe"), Map.entry("pi", "Pi"), Map.entry("initialpunctuation", "Pi"),
            Map.entry("pf", "Pf"), Map.entry("finalpunctuation", "Pf"), Map.entry("po", "Po"),
            Map.entry("otherpunctuation", "Po"),
            Map.entry("s", "S"), Map.entry("symbol", "S"), Map.entry("sm", "Sm"), Map.entry("mathsymbol", "Sm"),
            Map.entry("sc", "Sc"), Map.entry("currencysymbol", "Sc"), Map.entry("sk", "Sk"),
            Map.entry("modifiersymbol", "Sk"), Map.entry("so", "So"), Map.entry("othersymbol", "So"),
            Map.entry("z", "Z"), Map.entry("separator", "Z"), Map.entry("zs", "Zs"),
            Map.entry("spaceseparator", "Zs"), Map.entry("zl", "Zl"), Map.entry("lineseparator", "Zl"),
            Map.entry("zp", "Zp"), Map.entry("paragraphseparator", "Zp"),
            Map.entry("c", "C"), Map.entry("other", "C"), Map.entry("cc", "Cc"), Map.entry("control", "Cc"),
            Map.entry("cntrl", "Cc"), Map.entry("cf", "Cf"), Map.entry("format", "Cf"), Map.entry("cs", "Cs"),
            Map.entry("surrogate", "Cs"), Map.entry("co", "Co"), Map.entry("privateuse", "Co"),
            Map.entry("cn", "Cn"), Map.entry("unassigned", "Cn"));

    /** Property names that are sets, in the form they take inside a bracket expression. */
    private static final Map<String, String> SETS = Map.ofEntries(
            Map.entry("alpha", "\\p{IsAlphabetic}"), Map.entry("alphabetic", "\\p{IsAlphabetic}"),
            Map.entry("alnum", "\\p{IsAlphabetic}\\p{Nd}"), Map.entry("upper", "\\p{IsUppercase}"),
            Map.entry("uppercase", "\\p{IsUppercase}"), Map.entry("lower", "\\p{IsLowercase}"),
            Map.entry("lowercase", "\\p{IsLowercase}"), Map.entry("space", "\\p{IsWhite_Space}"),
            Map.entry("whitespace", "\\p{IsWhite_Space}"), Map.entry("punct", "\\p{P}"),
            Map.entry("posixpunct", "\\p{P}\\p{S}"), // [[:punct:]] also covers symbols, \p{Punct} does not
            Map.entry("word", WORD_IN_CLASS), Map.entry("xdigit", "0-9A-Fa-f"), Map.entry("ascii", "\\x00-\\x7F"),
            Map.entry("any", "\\x{0}-\\x{10FFFF}"), Map.entry("emoji", "\\p{IsEmoji}"),
            Map.entry("ideographic", "\\p{IsIdeographic}"), Map.entry("blank", "\\p{Zs}\\t"));

    /**
     * Compiles an Oniguruma pattern; {@code where} names the file and field for the error message.
     *
     * @throws MoiceException if the pattern uses a construct that has no translation or does not compile
     */
    static Pattern compile(String onig, String where) {
        String java = translate(onig, where);
        try {
            return Pattern.compile(java, FLAGS);
        } catch (PatternSyntaxException e) {
            throw new MoiceException(where + ": regex " + quoteForMessage(onig) + " is not supported: "
                    + e.getDescription());
        }
    }

    /** A pattern that matches {@code literal} exactly (the {@code {"String": ...}} form of a pattern). */
    static Pattern literal(String literal) {
        return Pattern.compile(literal, Pattern.LITERAL);
    }

    /** Replaces every match, with a fast path for literal patterns. */
    static String replaceAll(Pattern pattern, String text, String content) {
        if ((pattern.flags() & Pattern.LITERAL) != 0) {
            return pattern.pattern().isEmpty() ? text : text.replace(pattern.pattern(), content);
        }
        return pattern.matcher(text).replaceAll(java.util.regex.Matcher.quoteReplacement(content));
    }

    static String translate(String s, String where) {
        StringBuilder out = new StringBuilder(s.length() + 16);
        int depth = 0; // bracket-expression nesting
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == '\\') {
                if (i + 1 >= n) throw unsupported(s, where, "a trailing backslash");
                char d = s.charAt(i + 1);
                switch (d) {
                    case 'p', 'P' -> {
                        int end;
                        String name;
                        if (i + 2 < n && s.charAt(i + 2) == '{') {
                            end = s.indexOf('}', i + 3);
                            if (end < 0) throw unsupported(s, where, "an unterminated \\p{");
                            name = s.substring(i + 3, end);
                            end++;
                        } else if (i + 2 < n) {
                            name = s.substring(i + 2, i + 3);
                            end = i + 3;
                        } else {
                            throw unsupported(s, where, "a bare \\p");
                        }
                        boolean negated = d == 'P';
                        if (name.startsWith("^")) {
                            negated = !negated;
                            name = name.substring(1);
                        }
                        out.append(property(name, negated, s, where));
                        i = end;
                    }
                    case 's' -> {
                        out.append("\\p{IsWhite_Space}");
                        i += 2;
                    }
                    case 'S' -> {
                        out.append("\\P{IsWhite_Space}");
                        i += 2;
                    }
                    case 'd' -> {
                        out.append("\\p{Nd}");
                        i += 2;
                    }
                    case 'D' -> {
                        out.append("\\P{Nd}");
                        i += 2;
                    }
                    case 'w' -> {
                        out.append(depth > 0 ? WORD_IN_CLASS : "[" + WORD_IN_CLASS + WORD_EXTRA_LATIN1 + "]");
                        i += 2;
                    }
                    case 'W' -> {
                        if (depth > 0) throw unsupported(s, where, "\\W inside a bracket expression");
                        out.append("[^").append(WORD_IN_CLASS).append(WORD_EXTRA_LATIN1).append(']');
                        i += 2;
                    }
                    case 'h' -> {
                        out.append(depth > 0 ? "0-9a-fA-F" : "[0-9a-fA-F]");
                        i += 2;
                    }
                    case 'H' -> {
                        if (depth > 0) throw unsupported(s, where, "\\H inside a bracket expression");
                        out.append("[^0-9a-fA-F]");
                        i += 2;
                    }
                    case 'v' -> {
                        out.append("\\x0B");
                        i += 2;
                    }
                    case 'x' -> {
                        int end = i + 2 < n && s.charAt(i + 2) == '{' ? s.indexOf('}', i + 3) + 1 : i + 2;
                        if (end <= 0) throw unsupported(s, where, "an unterminated \\x{");
                        out.append(s, i, end); // \xHH and \x{H...} mean the same in Java
                        i = end;
                    }
                    case 'b', 'B', 'K', 'y', 'Y', 'g', 'k', 'O', 'N', 'X' ->
                            throw unsupported(s, where, "\\" + d);
                    default -> {
                        out.append(c).append(d);
                        i += 2;
                    }
                }
                continue;
            }
            if (depth > 0) {
                if (c == '[' && s.startsWith("[:", i)) {
                    int end = s.indexOf(":]", i + 2);
                    if (end < 0) throw unsupported(s, where, "an unterminated POSIX bracket");
                    String name = s.substring(i + 2, end);
                    boolean negated = name.startsWith("^");
                    if (negated) name = name.substring(1);
                    if (name.equalsIgnoreCase("punct")) name = "posixpunct";
                    out.append(property(name, negated, s, where));
                    i = end + 2;
                    continue;
                }
                if (c == '[') {
                    depth++;
                    i = openBracket(s, i, out);
                    continue;
                }
                if (c == ']') depth--;
                out.append(c);
                i++;
                continue;
            }
            switch (c) {
                case '[' -> {
                    depth++;
                    i = openBracket(s, i, out);
                }
                case '{' -> i = brace(s, i, out);
                case '(' -> i = group(s, i, out, where);
                default -> {
                    out.append(c);
                    i++;
                }
            }
        }
        return out.toString();
    }

    /** Copies an opening bracket (and a leading ^); a ']' right after it is a literal in Oniguruma. */
    private static int openBracket(String s, int i, StringBuilder out) {
        out.append('[');
        i++;
        if (i < s.length() && s.charAt(i) == '^') {
            out.append('^');
            i++;
        }
        if (i < s.length() && s.charAt(i) == ']') {
            out.append("\\]");
            i++;
        }
        return i;
    }

    /** A '{' is a quantifier only in the forms {n} {n,} {n,m} {,m}; otherwise Oniguruma reads it literally. */
    private static int brace(String s, int i, StringBuilder out) {
        int j = i + 1;
        int lowStart = j;
        while (j < s.length() && Character.isDigit(s.charAt(j)) && s.charAt(j) < 0x80) j++;
        boolean hasLow = j > lowStart;
        boolean comma = j < s.length() && s.charAt(j) == ',';
        int highStart = comma ? j + 1 : j;
        int k = highStart;
        while (k < s.length() && Character.isDigit(s.charAt(k)) && s.charAt(k) < 0x80) k++;
        boolean hasHigh = k > highStart;
        boolean closed = k < s.length() && s.charAt(k) == '}';
        if (closed && (hasLow || (comma && hasHigh)) && (comma || !hasHigh)) {
            out.append('{').append(hasLow ? s.substring(lowStart, j) : "0");
            if (comma) out.append(',').append(s, highStart, k);
            out.append('}');
            return k + 1;
        }
        out.append("\\{");
        return i + 1;
    }

    /** Group openings: option letters differ ((?m) is dot-all in Oniguruma) and (?#...) comments are dropped. */
    private static int group(String s, int i, StringBuilder out, String where) {
        if (!s.startsWith("(?", i)) {
            out.append('(');
            return i + 1;
        }
        if (s.startsWith("(?#", i)) {
            int end = s.indexOf(')', i);
            if (end < 0) throw unsupported(s, where, "an unterminated (?# comment");
            return end + 1;
        }
        int j = i + 2;
        StringBuilder opts = new StringBuilder();
        while (j < s.length() && "imx-".indexOf(s.charAt(j)) >= 0) {
            char o = s.charAt(j);
            opts.append(o == 'm' ? 's' : o);
            j++;
        }
        if (opts.length() > 0 && j < s.length() && (s.charAt(j) == ':' || s.charAt(j) == ')')) {
            out.append("(?").append(opts).append(s.charAt(j));
            return j + 1;
        }
        out.append("(?");
        return i + 2;
    }

    private static String property(String rawName, boolean negated, String s, String where) {
        String key = rawName.toLowerCase(Locale.ROOT).replace("_", "").replace(" ", "").replace("-", "");
        String category = CATEGORIES.get(key);
        if (category != null) return (negated ? "\\P{" : "\\p{") + category + "}";
        String set = SETS.get(key);
        if (set != null) return (negated ? "[^" : "[") + set + "]";
        if (key.startsWith("in") && key.length() > 2) {
            String block = rawName.replaceFirst("^[Ii][Nn]_?", "");
            try {
                Character.UnicodeBlock.forName(block);
                return (negated ? "\\P{In" : "\\p{In") + block + "}";
            } catch (IllegalArgumentException ignored) {
                // not a block name; try it as a script below
            }
        }
        try {
            Character.UnicodeScript script = Character.UnicodeScript.forName(rawName.replace(' ', '_'));
            return (negated ? "\\P{sc=" : "\\p{sc=") + script.name() + "}";
        } catch (IllegalArgumentException e) {
            throw unsupported(s, where, "the Unicode property '" + rawName + "'");
        }
    }

    private static MoiceException unsupported(String s, String where, String what) {
        return new MoiceException(where + ": regex " + quoteForMessage(s) + " uses " + what
                + ", which moice cannot translate to Java");
    }

    private static String quoteForMessage(String s) {
        StringBuilder sb = new StringBuilder();
        moice.io.Json.quote(s.length() > 200 ? s.substring(0, 200) + "..." : s, sb);
        return sb.toString();
    }
}
