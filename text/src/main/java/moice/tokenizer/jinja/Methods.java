package moice.tokenizer.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Python methods templates call on values: {@code str.strip/lstrip/rstrip/split/startswith/endswith/upper/lower/
 * title/capitalize/replace/find/count/join/is*} and {@code dict.get/items/keys/values}. Mutating methods do not exist
 * here, as in jinja2's ImmutableSandboxedEnvironment.
 */
final class Methods {
    private Methods() {
    }

    private interface Body {
        Object call(Arguments args);
    }

    private static JinjaFunction bound(String owner, String name, Body body) {
        return new JinjaFunction() {
            @Override
            public Object call(Arguments args) {
                return body.call(args);
            }

            @Override
            public String describe() {
                return "<built-in method " + name + " of " + owner + " object>";
            }
        };
    }

    /** The bound method {@code obj.name}, or null when obj has no such method. */
    static JinjaFunction lookup(Object obj, String name) {
        if (obj instanceof String s) return stringMethod(s, name);
        if (obj instanceof Map<?, ?> m) return dictMethod(m, name);
        return null;
    }

    private static String optionalString(Object v, String function) {
        if (v == Arguments.MISSING || v == null) return null;
        if (v instanceof String s) return s;
        throw new TemplateError(function + " arg must be None or str");
    }

    private static String stringArg(Object v, String function) {
        if (v instanceof String s) return s;
        if (v instanceof Undefined u) throw u.fail();
        throw new TemplateError(function + "() argument must be str, not " + Values.typeName(v));
    }

    private static JinjaFunction stringMethod(String s, String name) {
        return switch (name) {
            case "strip", "lstrip", "rstrip" -> bound("str", name, args -> {
                String chars = optionalString(args.bind(name, "chars")[0], name);
                return switch (name) {
                    case "strip" -> PyStrings.strip(s, chars);
                    case "lstrip" -> PyStrings.lstrip(s, chars);
                    default -> PyStrings.rstrip(s, chars);
                };
            });
            case "split" -> bound("str", name, args -> {
                Object[] a = args.bind(name, "sep", "maxsplit");
                long max = a[1] == Arguments.MISSING ? -1 : Values.asLong(a[1]);
                return PyStrings.split(s, optionalString(a[0], name), max);
            });
            case "startswith", "endswith" -> bound("str", name, args -> {
                Object[] a = args.bind(name, "prefix", "start", "end");
                if (a[0] == Arguments.MISSING) throw new TemplateError(name + "() takes at least 1 argument (0 given)");
                String part = (String) Values.slice(s, nullIfMissing(a[1]), nullIfMissing(a[2]), null);
                List<Object> candidates = a[0] instanceof PyTuple t ? t : List.of(stringArg(a[0], name));
                for (Object c : candidates) {
                    String text = stringArg(c, name);
                    if (name.equals("startswith") ? part.startsWith(text) : part.endsWith(text)) return true;
                }
                return false;
            });
            case "upper" -> bound("str", name, args -> {
                args.requireNone(name);
                return s.toUpperCase(Locale.ROOT);
            });
            case "lower" -> bound("str", name, args -> {
                args.requireNone(name);
                return s.toLowerCase(Locale.ROOT);
            });
            case "title" -> bound("str", name, args -> {
                args.requireNone(name);
                return PyStrings.title(s);
            });
            case "capitalize" -> bound("str", name, args -> {
                args.requireNone(name);
                return PyStrings.capitalize(s);
            });
            case "replace" -> bound("str", name, args -> {
                Object[] a = args.bind(name, "old", "new", "count");
                if (a[1] == Arguments.MISSING) throw new TemplateError("replace() takes at least 2 arguments");
                long count = a[2] == Arguments.MISSING ? -1 : Values.asLong(a[2]);
                return replace(s, stringArg(a[0], name), stringArg(a[1], name), count);
            });
            case "find" -> bound("str", name, args -> {
                Object[] a = args.bind(name, "sub");
                int at = s.indexOf(stringArg(a[0], name));
                return at < 0 ? -1L : (long) s.codePointCount(0, at);
            });
            case "count" -> bound("str", name, args -> {
                String sub = stringArg(args.bind(name, "sub")[0], name);
                if (sub.isEmpty()) return (long) PyStrings.length(s) + 1;
                long n = 0;
                for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
                return n;
            });
            case "join" -> bound("str", name, args -> {
                List<Object> items = Values.iterate(args.bind(name, "iterable")[0]);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < items.size(); i++) {
                    if (!(items.get(i) instanceof String item)) {
                        throw new TemplateError("sequence item " + i + ": expected str instance, "
                                + Values.typeName(items.get(i)) + " found");
                    }
                    if (i > 0) sb.append(s);
                    sb.append(item);
                    Values.checkSize(sb.length());
                }
                return sb.toString();
            });
            case "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower" -> bound("str", name, args -> {
                args.requireNone(name);
                return classify(s, name);
            });
            default -> null;
        };
    }

    private static Object nullIfMissing(Object v) {
        return v == Arguments.MISSING ? null : v;
    }

    private static boolean classify(String s, String name) {
        if (s.isEmpty()) return false;
        boolean anyCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            boolean ok = switch (name) {
                case "isdigit" -> Character.isDigit(cp);
                case "isalpha" -> Character.isLetter(cp);
                case "isalnum" -> Character.isLetterOrDigit(cp);
                case "isspace" -> PyStrings.isWhitespace(cp);
                case "isupper" -> !Character.isLowerCase(cp) && !Character.isTitleCase(cp);
                default -> !Character.isUpperCase(cp) && !Character.isTitleCase(cp);
            };
            if (!ok) return false;
            if (Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp)) anyCased = true;
        }
        return !name.equals("isupper") && !name.equals("islower") || anyCased;
    }

    /** Python's {@code str.replace}; an empty {@code old} inserts {@code replacement} around every character. */
    static String replace(String s, String old, String replacement, long count) {
        if (count == 0) return s;
        if (old.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            long done = 0;
            List<Object> chars = PyStrings.chars(s);
            for (Object c : chars) {
                if (count < 0 || done < count) {
                    sb.append(replacement);
                    done++;
                }
                sb.append((String) c);
                Values.checkSize(sb.length());
            }
            if (count < 0 || done < count) sb.append(replacement);
            return sb.toString();
        }
        StringBuilder sb = new StringBuilder();
        int from = 0;
        long done = 0;
        while (count < 0 || done < count) {
            int at = s.indexOf(old, from);
            if (at < 0) break;
            sb.append(s, from, at).append(replacement);
            Values.checkSize(sb.length());
            from = at + old.length();
            done++;
        }
        return sb.append(s.substring(from)).toString();
    }

    private static JinjaFunction dictMethod(Map<?, ?> m, String name) {
        return switch (name) {
            case "get" -> bound("dict", name, args -> {
                Object[] a = args.bind(name, "key", "default");
                if (a[0] == Arguments.MISSING) throw new TemplateError("get expected at least 1 argument, got 0");
                if (!Values.contains(m, a[0])) return a[1] == Arguments.MISSING ? null : a[1];
                return Values.getItem(m, a[0]);
            });
            case "items" -> bound("dict", name, args -> {
                args.requireNone(name);
                List<Object> out = new ArrayList<>(m.size());
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(PyTuple.of(e.getKey(), e.getValue()));
                return out;
            });
            case "keys" -> bound("dict", name, args -> {
                args.requireNone(name);
                return new ArrayList<Object>(m.keySet());
            });
            case "values" -> bound("dict", name, args -> {
                args.requireNone(name);
                return new ArrayList<Object>(m.values());
            });
            default -> null;
        };
    }
}
