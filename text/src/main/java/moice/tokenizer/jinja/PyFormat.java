package moice.tokenizer.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/**
 * Python's printf-style {@code str % args}, which jinja2 exposes through the {@code %} operator on strings and the
 * {@code format} filter ({@code "%s" | format(x)}). Conversions {@code s r a d i u o x X e E f F g G c %} with flags
 * {@code - + space # 0}, width, precision and {@code %(name)s} keys; floats are rounded from their exact binary value
 * (half-even), as Python does.
 */
final class PyFormat {
    private PyFormat() {
    }

    static String format(String fmt, Object args) {
        // A tuple supplies the arguments in order; anything else is a single argument (a dict may also feed %(key)s).
        List<?> values = args instanceof PyTuple t ? t : List.of(args == null ? NONE : args);
        Map<?, ?> mapping = args instanceof Map<?, ?> m ? m : null;
        int next = 0;
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < fmt.length()) {
            char c = fmt.charAt(i++);
            if (c != '%') {
                out.append(c);
                continue;
            }
            if (i >= fmt.length()) throw new TemplateError("incomplete format");
            Object value = MISSING;
            if (fmt.charAt(i) == '(') {
                if (mapping == null) throw new TemplateError("format requires a mapping");
                int close = fmt.indexOf(')', i);
                if (close < 0) throw new TemplateError("incomplete format key");
                String key = fmt.substring(i + 1, close);
                if (!mapping.containsKey(key)) throw new TemplateError("KeyError: " + PyStrings.repr(key));
                value = mapping.get(key);
                i = close + 1;
            }
            String flags = "";
            while (i < fmt.length() && "-+ #0".indexOf(fmt.charAt(i)) >= 0) flags += fmt.charAt(i++);
            int width = -1;
            if (i < fmt.length() && fmt.charAt(i) == '*') {
                width = (int) Values.asLong(take(values, next++));
                i++;
            } else {
                int start = i;
                while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) i++;
                if (i > start) width = Integer.parseInt(fmt.substring(start, i));
            }
            int precision = -1;
            if (i < fmt.length() && fmt.charAt(i) == '.') {
                i++;
                if (i < fmt.length() && fmt.charAt(i) == '*') {
                    precision = (int) Values.asLong(take(values, next++));
                    i++;
                } else {
                    int start = i;
                    while (i < fmt.length() && Character.isDigit(fmt.charAt(i))) i++;
                    precision = i > start ? Integer.parseInt(fmt.substring(start, i)) : 0;
                }
            }
            while (i < fmt.length() && "hlL".indexOf(fmt.charAt(i)) >= 0) i++;
            if (i >= fmt.length()) throw new TemplateError("incomplete format");
            char conversion = fmt.charAt(i++);
            if (conversion == '%') {
                out.append('%');
                continue;
            }
            if (value == MISSING) value = take(values, next++);
            if (value == NONE) value = null;
            if (width > Values.MAX_STRING || precision > Values.MAX_STRING) throw new TemplateError("format width or precision too large");
            out.append(pad(convert(conversion, value, flags, precision), width, flags, conversion));
            Values.checkSize(out.length());
        }
        if (next < values.size() && mapping == null) {
            throw new TemplateError("not all arguments converted during string formatting");
        }
        return out.toString();
    }

    private static final Object MISSING = new Object();
    private static final Object NONE = new Object();

    private static Object take(List<?> values, int index) {
        if (index >= values.size()) throw new TemplateError("not enough arguments for format string");
        return values.get(index);
    }

    private static String pad(String text, int width, String flags, char conversion) {
        if (width <= text.length()) return text;
        int fill = width - PyStrings.length(text);
        if (fill <= 0) return text;
        if (flags.contains("-")) return text + " ".repeat(fill);
        boolean numeric = "diouxXeEfFgG".indexOf(conversion) >= 0;
        if (flags.contains("0") && numeric) {
            int signEnd = !text.isEmpty() && "+- ".indexOf(text.charAt(0)) >= 0 ? 1 : 0;
            if (text.startsWith("0x", signEnd) || text.startsWith("0X", signEnd) || text.startsWith("0o", signEnd)) signEnd += 2;
            return text.substring(0, signEnd) + "0".repeat(fill) + text.substring(signEnd);
        }
        return " ".repeat(fill) + text;
    }

    private static String sign(boolean negative, String flags) {
        if (negative) return "-";
        if (flags.contains("+")) return "+";
        if (flags.contains(" ")) return " ";
        return "";
    }

    private static String convert(char conversion, Object value, String flags, int precision) {
        switch (conversion) {
            case 's', 'r', 'a' -> {
                String s = conversion == 's' ? Values.str(value) : Values.repr(value);
                return precision >= 0 && precision < PyStrings.length(s) ? s.substring(0, s.offsetByCodePoints(0, precision)) : s;
            }
            case 'c' -> {
                if (value instanceof String s && PyStrings.length(s) == 1) return s;
                return Character.toString((int) integer(value, conversion));
            }
            case 'd', 'i', 'u' -> {
                long v = integer(value, conversion);
                return sign(v < 0, flags) + Long.toString(Math.abs(v)).replace("-", "");
            }
            case 'o', 'x', 'X' -> {
                long v = integer(value, conversion);
                String digits = conversion == 'o' ? Long.toOctalString(Math.abs(v)) : Long.toHexString(Math.abs(v));
                if (conversion == 'X') digits = digits.toUpperCase(java.util.Locale.ROOT);
                String prefix = flags.contains("#") ? (conversion == 'o' ? "0o" : conversion == 'x' ? "0x" : "0X") : "";
                return sign(v < 0, flags) + prefix + digits;
            }
            default -> {
                if ("eEfFgG".indexOf(conversion) < 0) {
                    throw new TemplateError("unsupported format character '" + conversion + "'");
                }
                if (!Values.isNumber(value)) {
                    throw new TemplateError("must be real number, not " + Values.typeName(value));
                }
                double d = Values.asDouble(value);
                return sign(d < 0 || (d == 0 && 1 / d < 0), flags) + floating(Math.abs(d), conversion, flags,
                        precision < 0 ? 6 : precision);
            }
        }
    }

    private static long integer(Object value, char conversion) {
        if (Values.isInt(value)) return Values.asLong(value);
        if (value instanceof Double d) return (long) d.doubleValue();
        throw new TemplateError("%" + conversion + " format: a real number is required, not " + Values.typeName(value));
    }

    private static String floating(double d, char conversion, String flags, int precision) {
        boolean upper = Character.isUpperCase(conversion);
        if (Double.isNaN(d)) return upper ? "NAN" : "nan";
        if (Double.isInfinite(d)) return upper ? "INF" : "inf";
        String s = switch (Character.toLowerCase(conversion)) {
            case 'f' -> fixed(d, precision, flags.contains("#"));
            case 'e' -> exponent(d, precision, flags.contains("#"));
            default -> general(d, precision, flags.contains("#"));
        };
        return upper ? s.toUpperCase(java.util.Locale.ROOT) : s;
    }

    private static String fixed(double d, int precision, boolean alternate) {
        String s = new BigDecimal(d).setScale(precision, RoundingMode.HALF_EVEN).toPlainString();
        return alternate && precision == 0 ? s + "." : s;
    }

    private static String exponent(double d, int precision, boolean alternate) {
        if (d == 0) {
            String zeros = precision > 0 ? "." + "0".repeat(precision) : (alternate ? "." : "");
            return "0" + zeros + "e+00";
        }
        BigDecimal rounded = new BigDecimal(d).round(new java.math.MathContext(precision + 1, RoundingMode.HALF_EVEN));
        String digits = rounded.unscaledValue().toString();
        int exp = digits.length() - 1 - rounded.scale();
        digits = (digits + "0".repeat(precision + 1)).substring(0, precision + 1);
        String mantissa = digits.charAt(0) + (precision > 0 ? "." + digits.substring(1) : (alternate ? "." : ""));
        return mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    private static String general(double d, int precision, boolean alternate) {
        int p = precision == 0 ? 1 : precision;
        int exp;
        if (d == 0) {
            exp = 0;
        } else {
            BigDecimal rounded = new BigDecimal(d).round(new java.math.MathContext(p, RoundingMode.HALF_EVEN));
            exp = rounded.precision() - 1 - rounded.scale();
        }
        String s = exp >= -4 && exp < p ? fixed(d, p - 1 - exp, alternate) : exponent(d, p - 1, alternate);
        if (alternate) return s;
        int e = s.indexOf('e');
        String mantissa = e >= 0 ? s.substring(0, e) : s;
        String suffix = e >= 0 ? s.substring(e) : "";
        if (mantissa.contains(".")) {
            mantissa = mantissa.replaceAll("0+$", "");
            if (mantissa.endsWith(".")) mantissa = mantissa.substring(0, mantissa.length() - 1);
        }
        return mantissa + suffix;
    }
}
