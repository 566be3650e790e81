package moice.tokenizer.jinja;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} as HF transformers' {@code tojson} filter calls it: non-ASCII kept unless
 * {@code ensure_ascii}, key order kept unless {@code sort_keys}, separators {@code (", ", ": ")} without indent and
 * {@code (",", ": ")} with it, floats as Python's repr ({@code NaN}, {@code Infinity} for the specials).
 */
final class JsonDumps {
    private final boolean ensureAscii;
    private final String indent; // null: single line
    private final String itemSeparator;
    private final String keySeparator;
    private final boolean sortKeys;

    JsonDumps(boolean ensureAscii, String indent, String itemSeparator, String keySeparator, boolean sortKeys) {
        this.ensureAscii = ensureAscii;
        this.indent = indent;
        this.itemSeparator = itemSeparator;
        this.keySeparator = keySeparator;
        this.sortKeys = sortKeys;
    }

    String dump(Object v) {
        StringBuilder sb = new StringBuilder();
        write(v, sb, 0);
        return sb.toString();
    }

    private void newline(StringBuilder sb, int level) {
        if (indent == null) return;
        sb.append('\n');
        sb.append(indent.repeat(level));
    }

    private void write(Object v, StringBuilder sb, int level) {
        if (v == null) sb.append("null");
        else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) sb.append(floatText(d));
        else if (v instanceof String s) quote(s, sb);
        else if (v instanceof List<?> list) {
            if (list.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) sb.append(itemSeparator);
                newline(sb, level + 1);
                write(list.get(i), sb, level + 1);
            }
            newline(sb, level);
            sb.append(']');
        } else if (v instanceof Map<?, ?> map) {
            if (map.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : map.entrySet()) entries.add(Map.entry(keyText(e.getKey()), e.getValue() == null ? NULL : e.getValue()));
            if (sortKeys) entries.sort(Comparator.comparing(Map.Entry::getKey));
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : entries) {
                if (!first) sb.append(itemSeparator);
                first = false;
                newline(sb, level + 1);
                quote(e.getKey(), sb);
                sb.append(keySeparator);
                write(e.getValue() == NULL ? null : e.getValue(), sb, level + 1);
            }
            newline(sb, level);
            sb.append('}');
        } else {
            throw new TemplateError("Object of type " + Values.typeName(v) + " is not JSON serializable");
        }
    }

    private static final Object NULL = new Object();

    private static String floatText(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        return Values.floatRepr(d);
    }

    private static String keyText(Object key) {
        if (key instanceof String s) return s;
        if (key == null) return "null";
        if (key instanceof Boolean b) return b ? "true" : "false";
        if (key instanceof Long l) return l.toString();
        if (key instanceof Double d) return floatText(d);
        throw new TemplateError("keys must be str, int, float, bool or None, not " + Values.typeName(key));
    }

    private void quote(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
