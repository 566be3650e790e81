package moice.tokenizer.jinja;

import java.util.List;
import java.util.Map;

/** jinja2's built-in tests ({@code x is defined}, {@code x is string}, {@code x is equalto y}, ...). */
final class Tests {
    private Tests() {
    }

    private static Object operand(String name, Arguments args) {
        Object[] a = args.bind(name, "other");
        if (a[0] == Arguments.MISSING) throw new TemplateError(name + "() missing 1 required positional argument");
        return a[0];
    }

    static boolean apply(String name, Object value, Arguments args) {
        switch (name) {
            case "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string",
                 "mapping", "iterable", "sequence", "callable", "lower", "upper", "odd", "even", "escaped" ->
                    args.requireNone(name);
            default -> { }
        }
        return switch (name) {
            case "defined" -> !(value instanceof Undefined);
            case "undefined" -> value instanceof Undefined;
            case "none" -> value == null;
            case "boolean" -> value instanceof Boolean;
            case "false" -> Boolean.FALSE.equals(value);
            case "true" -> Boolean.TRUE.equals(value);
            case "integer" -> value instanceof Long;
            case "float" -> value instanceof Double;
            case "number" -> Values.isNumber(value);
            case "string" -> value instanceof String;
            case "mapping" -> value instanceof Map;
            case "iterable" -> value instanceof String || value instanceof List || value instanceof Map || value instanceof Undefined;
            case "sequence" -> value instanceof String || value instanceof List || value instanceof Map || value instanceof Undefined;
            case "callable" -> value instanceof JinjaFunction;
            case "escaped" -> false;
            case "lower" -> {
                String s = Values.str(value);
                yield !s.equals(s.toUpperCase(java.util.Locale.ROOT)) && s.equals(s.toLowerCase(java.util.Locale.ROOT));
            }
            case "upper" -> {
                String s = Values.str(value);
                yield !s.equals(s.toLowerCase(java.util.Locale.ROOT)) && s.equals(s.toUpperCase(java.util.Locale.ROOT));
            }
            case "odd" -> Math.floorMod(Values.asLong(value), 2) == 1;
            case "even" -> Math.floorMod(Values.asLong(value), 2) == 0;
            case "divisibleby" -> {
                long divisor = Values.asLong(operand(name, args));
                if (divisor == 0) throw new TemplateError("integer division or modulo by zero");
                yield Math.floorMod(Values.asLong(value), divisor) == 0;
            }
            case "sameas" -> {
                Object other = operand(name, args);
                yield value == other || (value instanceof Boolean && value.equals(other));
            }
            case "in" -> Values.contains(operand(name, args), value);
            case "==", "eq", "equalto" -> Values.equal(value, operand(name, args));
            case "!=", "ne" -> !Values.equal(value, operand(name, args));
            case "<", "lt", "lessthan" -> Values.compare(value, operand(name, args), "<") < 0;
            case "<=", "le" -> Values.compare(value, operand(name, args), "<=") <= 0;
            case ">", "gt", "greaterthan" -> Values.compare(value, operand(name, args), ">") > 0;
            case ">=", "ge" -> Values.compare(value, operand(name, args), ">=") >= 0;
            default -> throw new TemplateError("No test named '" + name + "'.");
        };
    }
}
