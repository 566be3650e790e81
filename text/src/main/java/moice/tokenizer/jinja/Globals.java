package moice.tokenizer.jinja;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.time.temporal.ChronoField;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The functions a chat template can call: jinja2's {@code range}, {@code dict}, {@code namespace}, and the ones
 * HF transformers adds, {@code raise_exception(message)} and {@code strftime_now(format)}.
 */
final class Globals {
    /** jinja2's sandbox refuses larger ranges. */
    private static final long MAX_RANGE = 100_000;

    private Globals() {
    }

    private static JinjaFunction function(String name, java.util.function.Function<Arguments, Object> body) {
        return new JinjaFunction() {
            @Override
            public Object call(Arguments args) {
                return body.apply(args);
            }

            @Override
            public String describe() {
                return "<built-in function " + name + ">";
            }
        };
    }

    static Map<String, Object> create(Clock clock) {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("range", function("range", Globals::range));
        g.put("dict", function("dict", args -> {
            Map<Object, Object> out = new LinkedHashMap<>();
            addPairs(out, args, "dict");
            return out;
        }));
        g.put("namespace", function("namespace", args -> {
            Map<Object, Object> attributes = new LinkedHashMap<>();
            addPairs(attributes, args, "namespace");
            Namespace ns = new Namespace();
            attributes.forEach((k, v) -> ns.set(Values.str(k), v));
            return ns;
        }));
        g.put("raise_exception", function("raise_exception", args -> {
            Object[] a = args.bind("raise_exception", "message");
            throw new TemplateError(Values.str(Arguments.or(a[0], "")), true);
        }));
        g.put("strftime_now", function("strftime_now", args -> {
            Object[] a = args.bind("strftime_now", "format");
            if (a[0] == Arguments.MISSING) throw new TemplateError("strftime_now() missing 1 required positional argument: 'format'");
            return strftime(Values.str(a[0]), ZonedDateTime.now(clock));
        }));
        return g;
    }

    private static void addPairs(Map<Object, Object> out, Arguments args, String function) {
        if (args.positional.size() > 1) throw new TemplateError(function + " expected at most 1 positional argument");
        if (args.positional.size() == 1) {
            Object source = args.positional.get(0);
            if (source instanceof Map<?, ?> m) {
                out.putAll(m);
            } else {
                for (Object pair : Values.iterate(source)) {
                    List<Object> kv = Values.iterate(pair);
                    if (kv.size() != 2) throw new TemplateError(function + " update sequence element has length " + kv.size() + "; 2 is required");
                    out.put(kv.get(0), kv.get(1));
                }
            }
        }
        out.putAll(args.keywords);
    }

    private static Object range(Arguments args) {
        if (!args.keywords.isEmpty()) throw new TemplateError("range() takes no keyword arguments");
        List<Object> p = args.positional;
        if (p.isEmpty() || p.size() > 3) throw new TemplateError("range expected 1 to 3 arguments, got " + p.size());
        long start = 0;
        long stop;
        long step = 1;
        if (p.size() == 1) {
            stop = Values.asLong(p.get(0));
        } else {
            start = Values.asLong(p.get(0));
            stop = Values.asLong(p.get(1));
            if (p.size() == 3) step = Values.asLong(p.get(2));
        }
        if (step == 0) throw new TemplateError("range() arg 3 must not be zero");
        long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (count > MAX_RANGE) {
            throw new TemplateError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ").");
        }
        List<Object> out = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) out.add(start + i * step);
        return out;
    }

    /** C/Python strftime for the directives chat templates use; an unknown directive is kept as written. */
    static String strftime(String format, ZonedDateTime t) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                sb.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.US));
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.US));
                case 'd' -> sb.append(String.format("%02d", t.getDayOfMonth()));
                case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
                case 'm' -> sb.append(String.format("%02d", t.getMonthValue()));
                case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
                case 'Y' -> sb.append(t.getYear());
                case 'H' -> sb.append(String.format("%02d", t.getHour()));
                case 'I' -> sb.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> sb.append(String.format("%02d", t.getMinute()));
                case 'S' -> sb.append(String.format("%02d", t.getSecond()));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> sb.append(String.format("%03d", t.getDayOfYear()));
                case 'w' -> sb.append(t.getDayOfWeek().getValue() % 7);
                case 'u' -> sb.append(t.getDayOfWeek().getValue());
                case 'V' -> sb.append(String.format("%02d", t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR)));
                case 'f' -> sb.append(String.format("%06d", t.get(ChronoField.MICRO_OF_SECOND)));
                case 'z' -> sb.append(t.getOffset().getId().equals("Z") ? "+0000" : t.getOffset().getId().replace(":", ""));
                case 'Z' -> sb.append(t.getZone().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'F' -> sb.append(strftime("%Y-%m-%d", t));
                case 'T' -> sb.append(strftime("%H:%M:%S", t));
                case 'D' -> sb.append(strftime("%m/%d/%y", t));
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case '%' -> sb.append('%');
                default -> sb.append('%').append(d);
            }
        }
        return sb.toString();
    }
}
