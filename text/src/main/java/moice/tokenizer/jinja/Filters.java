package moice.tokenizer.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * jinja2's built-in filters that chat templates use, with jinja2's argument names and defaults, plus HF transformers'
 * {@code tojson}. An unknown filter fails when it is applied (so an unsupported filter in a branch that is not taken,
 * such as a tool-calling branch, does not stop plain chats from rendering).
 */
final class Filters {
    private Filters() {
    }

    static Object apply(String name, Object value, Arguments args) {
        return switch (name) {
            case "trim" -> {
                Object[] a = args.bind(name, "chars");
                Object chars = Arguments.or(a[0], null);
                yield PyStrings.strip(Values.str(value), chars == null ? null : Values.str(chars));
            }
            case "length", "count" -> {
                args.requireNone(name);
                yield Values.length(value);
            }
            case "tojson" -> tojson(value, args);
            case "upper" -> {
                args.requireNone(name);
                yield Values.str(value).toUpperCase(Locale.ROOT);
            }
            case "lower" -> {
                args.requireNone(name);
                yield Values.str(value).toLowerCase(Locale.ROOT);
            }
            case "capitalize" -> {
                args.requireNone(name);
                yield PyStrings.capitalize(Values.str(value));
            }
            case "title" -> {
                args.requireNone(name);
                yield PyStrings.title(Values.str(value));
            }
            case "default", "d" -> {
                Object[] a = args.bind(name, "default_value", "boolean");
                Object fallback = Arguments.or(a[0], "");
                boolean useFalsy = Values.truthy(Arguments.or(a[1], false));
                yield value instanceof Undefined || (useFalsy && !Values.truthy(value)) ? fallback : value;
            }
            case "join" -> {
                Object[] a = args.bind(name, "d", "attribute");
                String separator = Values.str(Arguments.or(a[0], ""));
                List<Object> items = Values.iterate(value);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < items.size(); i++) {
                    if (i > 0) sb.append(separator);
                    Object item = a[1] == Arguments.MISSING ? items.get(i) : attribute(items.get(i), a[1]);
                    sb.append(Values.str(item));
                    Values.checkSize(sb.length());
                }
                yield sb.toString();
            }
            case "first" -> {
                args.requireNone(name);
                List<Object> items = Values.iterate(value);
                yield items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.get(0);
            }
            case "last" -> {
                args.requireNone(name);
                List<Object> items = Values.iterate(value);
                yield items.isEmpty() ? new Undefined("No last item, sequence was empty.") : items.get(items.size() - 1);
            }
            case "string" -> {
                args.requireNone(name);
                yield Values.str(value);
            }
            case "safe" -> {
                args.requireNone(name);
                yield Values.str(value);
            }
            case "list" -> {
                args.requireNone(name);
                yield Values.iterate(value);
            }
            case "items" -> {
                args.requireNone(name);
                if (value instanceof Undefined) yield new ArrayList<>();
                if (!(value instanceof Map<?, ?> map)) throw new TemplateError("Can only get item pairs from a mapping.");
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : map.entrySet()) out.add(PyTuple.of(e.getKey(), e.getValue()));
                yield out;
            }
            case "selectattr", "rejectattr", "select", "reject" -> selectOrReject(name, value, args);
            case "map" -> map(value, args);
            case "replace" -> {
                Object[] a = args.bind(name, "old", "new", "count");
                if (a[1] == Arguments.MISSING) throw new TemplateError("replace filter needs 'old' and 'new'");
                long count = a[2] == Arguments.MISSING || a[2] == null ? -1 : Values.asLong(a[2]);
                yield Methods.replace(Values.str(value), Values.str(a[0]), Values.str(a[1]), count);
            }
            case "int" -> toInt(value, args);
            case "float" -> {
                Object[] a = args.bind(name, "default");
                Object fallback = Arguments.or(a[0], 0.0);
                if (value instanceof Double) yield value;
                if (Values.isInt(value)) yield (double) Values.asLong(value);
                try {
                    yield Double.parseDouble(PyStrings.strip(Values.str(value), null));
                } catch (NumberFormatException e) {
                    yield fallback;
                }
            }
            case "abs" -> {
                args.requireNone(name);
                if (value instanceof Double d) yield Math.abs(d);
                if (Values.isInt(value)) yield Math.abs(Values.asLong(value));
                throw new TemplateError("bad operand type for abs(): '" + Values.typeName(value) + "'");
            }
            case "round" -> round(value, args);
            case "reverse" -> {
                args.requireNone(name);
                if (value instanceof String s) yield new StringBuilder(s).reverse().toString();
                List<Object> items = Values.iterate(value);
                Collections.reverse(items);
                yield items;
            }
            case "sort" -> {
                Object[] a = args.bind(name, "reverse", "case_sensitive", "attribute");
                List<Object> items = Values.iterate(value);
                boolean caseSensitive = Values.truthy(Arguments.or(a[1], false));
                Object attr = a[2];
                items.sort((x, y) -> Values.compare(sortKey(x, attr, caseSensitive), sortKey(y, attr, caseSensitive), "<"));
                if (Values.truthy(Arguments.or(a[0], false))) Collections.reverse(items);
                yield items;
            }
            case "unique" -> {
                Object[] a = args.bind(name, "case_sensitive", "attribute");
                boolean caseSensitive = Values.truthy(Arguments.or(a[0], false));
                List<Object> out = new ArrayList<>();
                List<Object> seen = new ArrayList<>();
                for (Object item : Values.iterate(value)) {
                    Object key = sortKey(item, a[1], caseSensitive);
                    if (seen.stream().noneMatch(k -> Values.equal(k, key))) {
                        seen.add(key);
                        out.add(item);
                    }
                }
                yield out;
            }
            case "sum" -> {
                Object[] a = args.bind(name, "attribute", "start");
                Object total = Arguments.or(a[1], 0L);
                for (Object item : Values.iterate(value)) {
                    total = Values.binary("+", total, a[0] == Arguments.MISSING ? item : attribute(item, a[0]));
                }
                yield total;
            }
            case "indent" -> indent(value, args);
            case "format" -> {
                if (!args.positional.isEmpty() && !args.keywords.isEmpty()) {
                    throw new TemplateError("can't handle positional and keyword arguments at the same time");
                }
                yield PyFormat.format(Values.str(value), args.keywords.isEmpty()
                        ? new PyTuple(args.positional) : new java.util.LinkedHashMap<Object, Object>(args.keywords));
            }
            default -> throw new TemplateError("No filter named '" + name + "'.");
        };
    }

    /** jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0. */
    static Object attribute(Object item, Object attribute) {
        if (attribute instanceof Long || attribute instanceof Boolean) return Values.getItem(item, attribute);
        Object current = item;
        for (String part : Values.str(attribute).split("\\.", -1)) {
            Object key = part;
            if (!part.isEmpty() && part.chars().allMatch(Character::isDigit)) {
                try {
                    key = Long.parseLong(part);
                } catch (NumberFormatException ignored) {
                    // too long for an index: keep it as a key
                }
            }
            current = Values.getItem(current, key);
        }
        return current;
    }

    private static Object sortKey(Object item, Object attribute, boolean caseSensitive) {
        Object key = attribute == Arguments.MISSING || attribute == null ? item : attribute(item, attribute);
        if (!caseSensitive && key instanceof String s) return s.toLowerCase(Locale.ROOT);
        return key;
    }

    private static Object tojson(Object value, Arguments args) {
        Object[] a = args.bind("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        boolean ensureAscii = Values.truthy(Arguments.or(a[0], false));
        Object indentArg = Arguments.or(a[1], null);
        String indent;
        if (indentArg == null) indent = null;
        else if (indentArg instanceof String s) indent = s;
        else indent = " ".repeat((int) Math.max(0, Values.asLong(indentArg)));
        String itemSep = indent == null ? ", " : ",";
        String keySep = ": ";
        Object separators = Arguments.or(a[2], null);
        if (separators != null) {
            if (!(separators instanceof List<?> seps) || seps.size() != 2
                    || !(seps.get(0) instanceof String) || !(seps.get(1) instanceof String)) {
                throw new TemplateError("tojson separators must be a pair of strings");
            }
            itemSep = (String) seps.get(0);
            keySep = (String) seps.get(1);
        }
        boolean sortKeys = Values.truthy(Arguments.or(a[3], false));
        return new JsonDumps(ensureAscii, indent, itemSep, keySep, sortKeys).dump(value);
    }

    private static Object selectOrReject(String name, Object value, Arguments args) {
        boolean byAttribute = name.endsWith("attr");
        boolean select = name.startsWith("select");
        List<Object> positional = args.positional;
        int next = 0;
        Object attr = null;
        if (byAttribute) {
            if (positional.isEmpty()) throw new TemplateError("Missing parameter for attribute name");
            attr = positional.get(next++);
        }
        String test = next < positional.size() ? Values.str(positional.get(next++)) : null;
        Arguments testArgs = new Arguments(new ArrayList<>(positional.subList(next, positional.size())), args.keywords);
        List<Object> out = new ArrayList<>();
        for (Object item : Values.iterate(value)) {
            Object subject = byAttribute ? attribute(item, attr) : item;
            boolean passed = test == null ? Values.truthy(subject) : Tests.apply(test, subject, testArgs);
            if (passed == select) out.add(item);
        }
        return out;
    }

    private static Object map(Object value, Arguments args) {
        List<Object> out = new ArrayList<>();
        if (args.keywords.containsKey("attribute")) {
            Object attr = args.keywords.get("attribute");
            boolean hasDefault = args.keywords.containsKey("default");
            for (Object item : Values.iterate(value)) {
                Object v = attribute(item, attr);
                out.add(hasDefault && v instanceof Undefined ? args.keywords.get("default") : v);
            }
            return out;
        }
        if (args.positional.isEmpty()) throw new TemplateError("map requires a filter argument");
        String filter = Values.str(args.positional.get(0));
        Arguments rest = new Arguments(new ArrayList<>(args.positional.subList(1, args.positional.size())), args.keywords);
        for (Object item : Values.iterate(value)) out.add(apply(filter, item, rest));
        return out;
    }

    private static Object toInt(Object value, Arguments args) {
        Object[] a = args.bind("int", "default", "base");
        Object fallback = Arguments.or(a[0], 0L);
        int base = (int) Values.asLong(Arguments.or(a[1], 10L));
        if (Values.isInt(value)) return Values.asLong(value);
        if (value instanceof Double d) {
            if (d.isNaN() || d.isInfinite()) return fallback;
            return (long) d.doubleValue();
        }
        String s = PyStrings.strip(Values.str(value), null).replace("_", "");
        try {
            if (base != 10 && s.length() > 2 && s.charAt(0) == '0' && Character.isLetter(s.charAt(1))) s = s.substring(2);
            return Long.parseLong(s, base);
        } catch (NumberFormatException e) {
            try {
                return (long) Double.parseDouble(s);
            } catch (NumberFormatException e2) {
                return fallback;
            }
        }
    }

    private static Object round(Object value, Arguments args) {
        Object[] a = args.bind("round", "precision", "method");
        int precision = (int) Values.asLong(Arguments.or(a[0], 0L));
        String method = Values.str(Arguments.or(a[1], "common"));
        double d = Values.asDouble(value);
        if (Double.isNaN(d) || Double.isInfinite(d)) return d;
        RoundingMode mode = switch (method) {
            case "common" -> RoundingMode.HALF_EVEN; // Python's round() on the exact binary value
            case "ceil" -> RoundingMode.CEILING;
            case "floor" -> RoundingMode.FLOOR;
            default -> throw new TemplateError("method must be common, ceil or floor");
        };
        return new BigDecimal(d).setScale(precision, mode).doubleValue();
    }

    private static Object indent(Object value, Arguments args) {
        Object[] a = args.bind("indent", "width", "first", "blank");
        Object width = Arguments.or(a[0], 4L);
        String indentation = width instanceof String s ? s : " ".repeat((int) Math.max(0, Values.asLong(width)));
        List<String> lines = new ArrayList<>(List.of((Values.str(value) + "\n").split("\r\n|\r|\n|\u000b|\u000c|\u001c|\u001d|\u001e|\u0085|\u2028|\u2029", -1)));
        lines.remove(lines.size() - 1); // jinja2 appends "\n" before splitlines()
        StringBuilder sb = new StringBuilder();
        boolean blank = Values.truthy(Arguments.or(a[2], false));
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (i > 0) {
                sb.append('\n');
                if (blank || !line.isEmpty()) sb.append(indentation);
            }
            sb.append(line);
        }
        String result = sb.toString();
        return Values.truthy(Arguments.or(a[1], false)) ? indentation + result : result;
    }
}
