package moice.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import moice.MoiceException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict JSON (RFC 8259) reading through Jackson's streaming parser, and a small writer.
 *
 * <p>Values map to Java as: object → {@code LinkedHashMap<String,Object>} (key order kept), array →
 * {@code ArrayList<Object>}, string → {@code String}, number → {@code Long} when it is an integer that fits, else
 * {@code Double}, {@code true/false} → {@code Boolean}, {@code null} → {@code null}. Strict: a duplicate key, a
 * malformed number (leading zeros, NaN), comments, trailing content after the document or nesting deeper than
 * {@value #MAX_DEPTH} are errors. Errors are {@link MoiceException}s naming the source and the line/column.
 */
public final class Json {
    private static final int MAX_DEPTH = 512;
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH)
                    .maxStringLength(Integer.MAX_VALUE).maxNameLength(1 << 20).build())
            .build();

    private Json() {}

    /** Parses one JSON document; {@code source} names it in error messages (a file name, a field). */
    public static Object parse(String text, String source) {
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) throw error(source, p.currentLocation(), "unexpected end of input");
            Object v = value(p, first, source);
            JsonToken after;
            try {
                after = p.nextToken();
            } catch (StreamReadException e) {
                throw error(source, e.getLocation(), "unexpected trailing characters");
            }
            if (after != null) throw error(source, p.currentTokenLocation(), "unexpected trailing characters");
            return v;
        } catch (JsonProcessingException e) { // syntax errors, and limits (nesting depth)
            throw error(source, e.getLocation(), e.getOriginalMessage());
        } catch (IOException e) {
            throw new MoiceException(source + ": cannot read JSON: " + e.getMessage(), e);
        }
    }

    private static Object value(JsonParser p, JsonToken t, String source) throws IOException {
        return switch (t) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
                    String key = p.currentName();
                    m.put(key, value(p, p.nextToken(), source));
                }
                yield m;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) l.add(value(p, e, source));
                yield l;
            }
            case VALUE_STRING -> p.getText();
            case VALUE_NUMBER_INT -> p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                    ? (Object) Double.parseDouble(p.getText()) : (Object) p.getLongValue();
            case VALUE_NUMBER_FLOAT -> Double.parseDouble(p.getText());
            case VALUE_TRUE -> Boolean.TRUE;
            case VALUE_FALSE -> Boolean.FALSE;
            case VALUE_NULL -> null;
            default -> throw error(source, p.currentTokenLocation(), "unexpected token " + t);
        };
    }

    private static MoiceException error(String source, JsonLocation at, String what) {
        String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
        return new MoiceException(source + ": malformed JSON" + where + ": " + what);
    }

    /** Reads and parses a UTF-8 JSON file. */
    public static Object parseFile(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new MoiceException(file + ": not valid UTF-8", e);
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e, e);
        }
        return parse(text, file.toString());
    }

    // ---- typed access helpers, for config-like documents ----

    /** The object {@code v}, or an error naming {@code what}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Object v, String what) {
        if (v instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw new MoiceException(what + ": expected a JSON object, found " + typeName(v));
    }

    @SuppressWarnings("unchecked")
    public static List<Object> array(Object v, String what) {
        if (v instanceof List<?> l) return (List<Object>) l;
        throw new MoiceException(what + ": expected a JSON array, found " + typeName(v));
    }

    public static String string(Object v, String what) {
        if (v instanceof String s) return s;
        throw new MoiceException(what + ": expected a string, found " + typeName(v));
    }

    public static double number(Object v, String what) {
        if (v instanceof Number n) return n.doubleValue();
        throw new MoiceException(what + ": expected a number, found " + typeName(v));
    }

    public static long integer(Object v, String what) {
        if (v instanceof Long l) return l;
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 9.007199254740992E15) return d.longValue();
        throw new MoiceException(what + ": expected an integer, found " + typeName(v) + " " + v);
    }

    public static boolean bool(Object v, String what) {
        if (v instanceof Boolean b) return b;
        throw new MoiceException(what + ": expected true or false, found " + typeName(v));
    }

    public static String typeName(Object v) {
        if (v == null) return "null";
        if (v instanceof Map) return "an object";
        if (v instanceof List) return "an array";
        if (v instanceof String) return "a string";
        if (v instanceof Number) return "a number";
        if (v instanceof Boolean) return "a boolean";
        return v.getClass().getSimpleName();
    }

    // ---- writer ----

    /** Serialises maps, lists, strings, numbers, booleans and null as compact JSON. */
    public static String write(Object v) {
        StringBuilder sb = new StringBuilder();
        write(v, sb);
        return sb.toString();
    }

    private static void write(Object v, StringBuilder sb) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> quote(s, sb);
            case Boolean b -> sb.append(b);
            case Double d -> {
                if (d.isNaN() || d.isInfinite()) throw new IllegalArgumentException("JSON cannot hold " + d);
                if (d == Math.rint(d) && Math.abs(d) < 1e15) sb.append(d.longValue()).append(".0");
                else sb.append(d);
            }
            case Float f -> write(f.doubleValue(), sb);
            case Number n -> sb.append(n);
            case Map<?, ?> m -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) sb.append(',');
                    first = false;
                    quote(String.valueOf(e.getKey()), sb);
                    sb.append(':');
                    write(e.getValue(), sb);
                }
                sb.append('}');
            }
            case Iterable<?> l -> {
                sb.append('[');
                boolean first = true;
                for (Object o : l) {
                    if (!first) sb.append(',');
                    first = false;
                    write(o, sb);
                }
                sb.append(']');
            }
            case int[] a -> {
                sb.append('[');
                for (int i = 0; i < a.length; i++) sb.append(i == 0 ? "" : ",").append(a[i]);
                sb.append(']');
            }
            default -> throw new IllegalArgumentException("cannot write " + v.getClass() + " as JSON");
        }
    }

    /** Appends {@code s} as a JSON string literal (non-ASCII kept as is, controls escaped). */
    public static void quote(String s, StringBuilder sb) {
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
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
