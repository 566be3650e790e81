package moice.tokenizer.jinja;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python/jinja2 semantics over the template value model: {@code null} is None, {@link Boolean}, {@link Long} (int),
 * {@link Double} (float), {@link String}, {@link List} (list; {@link PyTuple} for tuples), {@link Map} (dict, insertion
 * ordered), {@link Undefined}, {@link Namespace}, {@link LoopState} and {@link JinjaFunction}. Failures throw
 * {@link TemplateError} with Python's wording where templates are likely to show it.
 */
final class Values {
    private Values() {
    }

    /**
     * Largest string (chars) a template may build: templates can double a value in a loop, so without a bound a
     * hostile template could exhaust memory. 32M characters is several million tokens, far above any prompt.
     */
    static final int MAX_STRING = 1 << 25;
    /** Largest list a template may build. */
    static final int MAX_ITEMS = 1 << 22;

    static String checkSize(String s) {
        checkSize(s.length());
        return s;
    }

    static void checkSize(long chars) {
        if (chars > MAX_STRING) throw new TemplateError("string too long (over " + MAX_STRING + " characters)");
    }

    static void checkItems(long items) {
        if (items > MAX_ITEMS) throw new TemplateError("list too large (over " + MAX_ITEMS + " items)");
    }

    // ---- conversion from Java ----

    /** Deep copy of a Java value into the template model (ints widen to Long, floats to Double, maps keep order). */
    static Object fromJava(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double
                || v instanceof Undefined || v instanceof Namespace || v instanceof JinjaFunction) {
            return v;
        }
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return f.doubleValue();
        if (v instanceof BigDecimal d) return d.doubleValue();
        if (v instanceof java.math.BigInteger b) {
            try {
                return b.longValueExact();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("integer too large for a template value: " + b);
            }
        }
        if (v instanceof Character c) return c.toString();
        if (v instanceof PyTuple t) return t;
        if (v instanceof List<?> list) {
            List<Object> out = new ArrayList<>(list.size());
            for (Object item : list) out.add(fromJava(item));
            return out;
        }
        if (v instanceof Map<?, ?> map) {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : map.entrySet()) out.put(fromJava(e.getKey()), fromJava(e.getValue()));
            return out;
        }
        if (v instanceof Enum<?> e) return e.name();
        throw new IllegalArgumentException("unsupported template value of type " + v.getClass().getName());
    }

    // ---- type names ----

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof String) return "str";
        if (v instanceof PyTuple) return "tuple";
        if (v instanceof List) return "list";
        if (v instanceof Map) return "dict";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Namespace) return "TemplateNamespace";
        if (v instanceof LoopState) return "LoopContext";
        if (v instanceof JinjaFunction) return "builtin_function_or_method";
        return v.getClass().getSimpleName();
    }

    /** jinja2's object_type_repr, used in "has no attribute" messages. */
    static String objectTypeRepr(Object v) {
        if (v == null) return "None";
        if (v instanceof Namespace) return "transformers.utils.chat_template_utils.TemplateNamespace object";
        if (v instanceof LoopState) return "jinja2.runtime.LoopContext object";
        if (v instanceof Undefined) return "jinja2.runtime.Undefined object";
        return typeName(v) + " object";
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    /** int-like (Python bool is an int). */
    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Boolean;
    }

    static long asLong(Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Boolean b) return b ? 1 : 0;
        throw new TemplateError("an integer is required, not '" + typeName(v) + "'");
    }

    static double asDouble(Object v) {
        if (v instanceof Double d) return d;
        return asLong(v);
    }

    // ---- truth, str, repr ----

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0.0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof Collection<?> c) return !c.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    /** Python's {@code str(v)}, which is what {@code {{ v }}} prints. */
    static String str(Object v) {
        if (v instanceof String s) return s;
        if (v == null) return "None";
        if (v instanceof Boolean b) return b ? "True" : "False";
        if (v instanceof Long l) return l.toString();
        if (v instanceof Double d) return floatRepr(d);
        if (v instanceof Undefined) return "";
        if (v instanceof JinjaFunction f) return f.describe();
        if (v instanceof List || v instanceof Map) return repr(v);
        return v.toString();
    }

    static String repr(Object v) {
        if (v instanceof String s) return PyStrings.repr(s);
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof PyTuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                if (i > 0) sb.append(", ");
                sb.append(repr(t.get(i)));
            }
            return sb.append(t.size() == 1 ? ",)" : ")").toString();
        }
        if (v instanceof List<?> list) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) sb.append(", ");
                sb.append(repr(list.get(i)));
            }
            return sb.append(']').toString();
        }
        if (v instanceof Map<?, ?> map) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                sb.append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
            }
            return sb.append('}').toString();
        }
        return str(v);
    }

    /** Python's {@code repr(float)}: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        // Double.toString gives the shortest digits that round-trip (JDK 19+), as Python's repr does.
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int decimalPoint = digits.length() - bd.scale(); // value = 0.DIGITS * 10^decimalPoint
        if (digits.length() == 2) {
            // Java prefers a closer 2-digit form when a 1-digit one also round-trips (subnormals such as 4.9E-324);
            // Python's repr takes the shortest (5e-324).
            BigDecimal exact = new BigDecimal(Math.abs(d));
            BigDecimal bestDistance = null;
            int best = -1;
            for (int candidate = digits.charAt(0) - '0'; candidate <= digits.charAt(0) - '0' + 1; candidate++) {
                BigDecimal value = new BigDecimal(java.math.BigInteger.valueOf(candidate), -(decimalPoint - 1));
                if (value.doubleValue() != Math.abs(d)) continue;
                BigDecimal distance = value.subtract(exact).abs();
                if (bestDistance == null || distance.compareTo(bestDistance) < 0) {
                    bestDistance = distance;
                    best = candidate;
                }
            }
            if (best == 10) {
                digits = "1";
                decimalPoint++;
            } else if (best >= 0) {
                digits = Integer.toString(best);
            }
        }
        StringBuilder sb = new StringBuilder(d < 0 ? "-" : "");
        if (decimalPoint > 16 || decimalPoint < -3) {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            int exp = decimalPoint - 1;
            sb.append('e').append(exp < 0 ? '-' : '+');
            String e = Integer.toString(Math.abs(exp));
            if (e.length() < 2) sb.append('0');
            sb.append(e);
        } else if (decimalPoint <= 0) {
            sb.append("0.").append("0".repeat(-decimalPoint)).append(digits);
        } else if (decimalPoint >= digits.length()) {
            sb.append(digits).append("0".repeat(decimalPoint - digits.length())).append(".0");
        } else {
            sb.append(digits, 0, decimalPoint).append('.').append(digits, decimalPoint, digits.length());
        }
        return sb.toString();
    }

    // ---- equality and ordering ----

    static boolean equal(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return asDouble(a) == asDouble(b) && exactEqual(a, b);
            return asLong(a) == asLong(b);
        }
        if (a instanceof String s) return s.equals(b);
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if ((a instanceof PyTuple) != (b instanceof PyTuple) || x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!equal(x.get(i), y.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                Object key = findKey(y, e.getKey());
                if (key == NO_KEY || !equal(e.getValue(), y.get(key))) return false;
            }
            return true;
        }
        return false;
    }

    /** An int and a float are equal only when the float is exactly that integer. */
    private static boolean exactEqual(Object a, Object b) {
        if (a instanceof Double && b instanceof Double) return true;
        long l = isInt(a) ? asLong(a) : asLong(b);
        double d = a instanceof Double x ? x : (Double) b;
        return Math.abs(d) < 0x1p63 && (long) d == l;
    }

    private static final Object NO_KEY = new Object();

    /** The key of m equal to key in Python's sense (1 == 1.0 == True), or NO_KEY. */
    private static Object findKey(Map<?, ?> m, Object key) {
        if (m.containsKey(key)) return key;
        if (isNumber(key)) {
            for (Object k : m.keySet()) if (isNumber(k) && equal(k, key)) return k;
        }
        return NO_KEY;
    }

    static int compare(Object a, Object b, String op) {
        if (a instanceof Undefined u) throw u.fail();
        if (b instanceof Undefined u) throw u.fail();
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return Long.compare(asLong(a), asLong(b));
            return Double.compare(asDouble(a), asDouble(b));
        }
        if (a instanceof String x && b instanceof String y) return compareCodePoints(x, y);
        if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof PyTuple) == (b instanceof PyTuple)) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                if (!equal(x.get(i), y.get(i))) return compare(x.get(i), y.get(i), op);
            }
            return Integer.compare(x.size(), y.size());
        }
        throw new TemplateError("'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int x = a.codePointAt(i);
            int y = b.codePointAt(j);
            if (x != y) return Integer.compare(x, y);
            i += Character.charCount(x);
            j += Character.charCount(y);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    static boolean contains(Object container, Object item) {
        if (container instanceof String s) {
            if (!(item instanceof String sub)) {
                throw new TemplateError("'in <string>' requires string as left operand, not " + typeName(item));
            }
            return s.contains(sub);
        }
        if (container instanceof List<?> list) {
            for (Object x : list) if (equal(x, item)) return true;
            return false;
        }
        if (container instanceof Map<?, ?> map) return findKey(map, item) != NO_KEY;
        if (container instanceof Undefined) return false;
        throw new TemplateError("argument of type '" + typeName(container) + "' is not iterable");
    }

    // ---- arithmetic ----

    private static void failOnUndefined(Object a, Object b) {
        if (a instanceof Undefined u) throw u.fail();
        if (b instanceof Undefined u) throw u.fail();
    }

    private static TemplateError unsupported(String op, Object a, Object b) {
        return new TemplateError("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static long exact(java.util.function.LongBinaryOperator f, long a, long b) {
        try {
            return f.applyAsLong(a, b);
        } catch (ArithmeticException e) {
            throw new TemplateError("integer overflow (templates here use 64-bit integers)");
        }
    }

    static Object binary(String op, Object a, Object b) {
        failOnUndefined(a, b);
        return switch (op) {
            case "+" -> add(a, b);
            case "-" -> {
                if (!isNumber(a) || !isNumber(b)) throw unsupported("-", a, b);
                yield isInt(a) && isInt(b) ? (Object) exact(Math::subtractExact, asLong(a), asLong(b)) : asDouble(a) - asDouble(b);
            }
            case "*" -> multiply(a, b);
            case "/" -> {
                if (!isNumber(a) || !isNumber(b)) throw unsupported("/", a, b);
                if (asDouble(b) == 0) throw new TemplateError("division by zero");
                yield asDouble(a) / asDouble(b);
            }
            case "//" -> {
                if (!isNumber(a) || !isNumber(b)) throw unsupported("//", a, b);
                if (isInt(a) && isInt(b)) {
                    if (asLong(b) == 0) throw new TemplateError("integer division or modulo by zero");
                    yield Math.floorDiv(asLong(a), asLong(b));
                }
                if (asDouble(b) == 0) throw new TemplateError("float floor division by zero");
                yield Math.floor(asDouble(a) / asDouble(b));
            }
            case "%" -> {
                if (a instanceof String fmt) yield PyFormat.format(fmt, b);
                if (!isNumber(a) || !isNumber(b)) throw unsupported("%", a, b);
                if (isInt(a) && isInt(b)) {
                    if (asLong(b) == 0) throw new TemplateError("integer modulo by zero");
                    yield Math.floorMod(asLong(a), asLong(b));
                }
                double x = asDouble(a);
                double y = asDouble(b);
                if (y == 0) throw new TemplateError("float modulo");
                double r = x % y;
                if (r != 0 && (r < 0) != (y < 0)) r += y;
                yield r;
            }
            case "**" -> {
                if (!isNumber(a) || !isNumber(b)) throw unsupported("** or pow()", a, b);
                if (isInt(a) && isInt(b) && asLong(b) >= 0) {
                    long result = 1;
                    long base = asLong(a);
                    for (long e = asLong(b); e > 0; e--) result = exact(Math::multiplyExact, result, base);
                    yield result;
                }
                yield Math.pow(asDouble(a), asDouble(b));
            }
            default -> throw new IllegalStateException(op);
        };
    }

    private static Object add(Object a, Object b) {
        if (a instanceof String x) {
            if (b instanceof String y) {
                checkSize((long) x.length() + y.length());
                return x + y;
            }
            throw new TemplateError("can only concatenate str (not \"" + typeName(b) + "\") to str");
        }
        if (a instanceof List<?> x && !(a instanceof PyTuple)) {
            if (!(b instanceof List<?> y) || b instanceof PyTuple) {
                throw new TemplateError("can only concatenate list (not \"" + typeName(b) + "\") to list");
            }
            checkItems((long) x.size() + y.size());
            List<Object> out = new ArrayList<>(x);
            out.addAll(y);
            return out;
        }
        if (a instanceof PyTuple x) {
            if (!(b instanceof PyTuple y)) throw new TemplateError("can only concatenate tuple (not \"" + typeName(b) + "\") to tuple");
            List<Object> out = new ArrayList<>(x);
            out.addAll(y);
            return new PyTuple(out);
        }
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return exact(Math::addExact, asLong(a), asLong(b));
            return asDouble(a) + asDouble(b);
        }
        throw unsupported("+", a, b);
    }

    private static Object multiply(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInt(a) && isInt(b)) return exact(Math::multiplyExact, asLong(a), asLong(b));
            return asDouble(a) * asDouble(b);
        }
        if (isInt(b) && (a instanceof String || a instanceof List)) return repeat(a, asLong(b));
        if (isInt(a) && (b instanceof String || b instanceof List)) return repeat(b, asLong(a));
        if (a instanceof String || a instanceof List) throw new TemplateError("can't multiply sequence by non-int of type '" + typeName(b) + "'");
        if (b instanceof String || b instanceof List) throw new TemplateError("can't multiply sequence by non-int of type '" + typeName(a) + "'");
        throw unsupported("*", a, b);
    }

    private static Object repeat(Object seq, long times) {
        int n = (int) Math.max(0, Math.min(times, MAX_STRING + 1L));
        if (seq instanceof String s) checkSize((long) n * s.length());
        else checkItems((long) n * ((List<?>) seq).size());
        if (seq instanceof String s) return s.repeat(n);
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.addAll((List<?>) seq);
        return seq instanceof PyTuple ? new PyTuple(out) : out;
    }

    static Object negate(Object v) {
        if (v instanceof Undefined u) throw u.fail();
        if (v instanceof Double d) return -d;
        if (isInt(v)) return exact(Math::subtractExact, 0, asLong(v));
        throw new TemplateError("bad operand type for unary -: '" + typeName(v) + "'");
    }

    static Object plus(Object v) {
        if (v instanceof Undefined u) throw u.fail();
        if (v instanceof Double) return v;
        if (isInt(v)) return asLong(v);
        throw new TemplateError("bad operand type for unary +: '" + typeName(v) + "'");
    }

    // ---- containers ----

    /** What {@code for x in v} iterates over. */
    static List<Object> iterate(Object v) {
        if (v instanceof List<?> list) return new ArrayList<>(list);
        if (v instanceof String s) return PyStrings.chars(s);
        if (v instanceof Map<?, ?> map) return new ArrayList<>(map.keySet());
        if (v instanceof Undefined) return new ArrayList<>();
        throw new TemplateError("'" + typeName(v) + "' object is not iterable");
    }

    static long length(Object v) {
        if (v instanceof String s) return PyStrings.length(s);
        if (v instanceof Collection<?> c) return c.size();
        if (v instanceof Map<?, ?> m) return m.size();
        if (v instanceof Undefined) return 0;
        throw new TemplateError("object of type '" + typeName(v) + "' has no len()");
    }

    /** {@code obj.name}: an attribute (method) first, then an item, else Undefined. */
    static Object getAttr(Object obj, String name) {
        if (obj instanceof Undefined u) throw u.fail();
        JinjaFunction method = Methods.lookup(obj, name);
        if (method != null) return method;
        if (obj instanceof Map<?, ?> map) {
            Object key = findKey(map, name);
            return key == NO_KEY ? Undefined.member(obj, name) : map.get(key);
        }
        if (obj instanceof Namespace ns) {
            return ns.attributes.containsKey(name) ? ns.attributes.get(name) : Undefined.member(obj, name);
        }
        if (obj instanceof LoopState loop) return loop.attribute(name);
        return Undefined.member(obj, name);
    }

    /** {@code obj[key]}: an item first, then (for str keys) an attribute, else Undefined. */
    static Object getItem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw u.fail();
        if (key instanceof Undefined u) throw u.fail();
        if (obj instanceof Map<?, ?> map) {
            Object k = findKey(map, key);
            if (k != NO_KEY) return map.get(k);
        } else if ((obj instanceof List || obj instanceof String) && isInt(key)) {
            long index = asLong(key);
            if (obj instanceof List<?> list) {
                long i = index < 0 ? index + list.size() : index;
                if (i >= 0 && i < list.size()) return list.get((int) i);
            } else {
                String s = (String) obj;
                int n = PyStrings.length(s);
                long i = index < 0 ? index + n : index;
                if (i >= 0 && i < n) {
                    int start = s.offsetByCodePoints(0, (int) i);
                    return Character.toString(s.codePointAt(start));
                }
            }
        }
        if (key instanceof String name && !(obj instanceof Map)) return getAttr(obj, name);
        if (key instanceof String name) {
            JinjaFunction method = Methods.lookup(obj, name);
            if (method != null) return method;
        }
        return Undefined.member(obj, key);
    }

    /** Python slicing of a str (by code point), list or tuple. */
    static Object slice(Object obj, Object start, Object stop, Object step) {
        if (obj instanceof Undefined u) throw u.fail();
        List<Object> items;
        if (obj instanceof String s) items = PyStrings.chars(s);
        else if (obj instanceof List<?> list) items = new ArrayList<>(list);
        else throw new TemplateError("'" + typeName(obj) + "' object is not subscriptable");
        long n = items.size();
        long st = step == null ? 1 : sliceIndex(step);
        if (st == 0) throw new TemplateError("slice step cannot be zero");
        long lower = st > 0 ? 0 : -1;
        long upper = st > 0 ? n : n - 1;
        long from = start == null ? (st > 0 ? lower : upper) : clamp(sliceIndex(start), n, lower, upper);
        long to = stop == null ? (st > 0 ? upper : lower) : clamp(sliceIndex(stop), n, lower, upper);
        List<Object> out = new ArrayList<>();
        for (long i = from; st > 0 ? i < to : i > to; i += st) out.add(items.get((int) i));
        if (obj instanceof String) {
            StringBuilder sb = new StringBuilder();
            for (Object c : out) sb.append((String) c);
            return sb.toString();
        }
        return obj instanceof PyTuple ? new PyTuple(out) : out;
    }

    private static long sliceIndex(Object v) {
        if (v instanceof Undefined u) throw u.fail();
        if (!isInt(v)) throw new TemplateError("slice indices must be integers or None or have an __index__ method");
        return asLong(v);
    }

    private static long clamp(long i, long n, long lower, long upper) {
        if (i < 0) return Math.max(i + n, lower);
        return Math.min(i, upper);
    }
}
