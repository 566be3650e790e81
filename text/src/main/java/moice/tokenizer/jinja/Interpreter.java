package moice.tokenizer.jinja;

import moice.tokenizer.jinja.Ast.Expr;
import moice.tokenizer.jinja.Ast.Stmt;
import moice.tokenizer.jinja.Ast.Target;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a parsed template by walking it. Scoping follows jinja2: {@code if} shares its enclosing scope, each
 * iteration of a {@code for} body runs in a fresh child scope (so {@code set} inside a loop is invisible after the
 * loop and does not carry to the next iteration; {@code namespace()} objects exist to work around that), a macro body
 * runs in a child of the scope the macro was defined in, and reads fall back to enclosing scopes, then the render
 * variables, then the globals.
 */
final class Interpreter {
    private enum Flow { NORMAL, BREAK, CONTINUE }

    private static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }
    }

    /** Bounds the damage of a runaway template (HF imposes none, but no real chat template comes near). */
    private static final int MAX_OUTPUT_CHARS = 64 << 20;

    /** Nested macro calls allowed (templates recurse over JSON schemas, which are shallow). */
    private static final int MAX_MACRO_DEPTH = 100;

    private final String templateName;
    private final StringBuilder out = new StringBuilder();
    private Scope scope;
    private int macroDepth;

    Interpreter(String templateName, Map<String, Object> globals, Map<String, Object> variables) {
        this.templateName = templateName;
        Scope globalScope = new Scope(null);
        globalScope.vars.putAll(globals);
        this.scope = new Scope(globalScope);
        this.scope.vars.putAll(variables);
    }

    String render(List<Stmt> body) {
        exec(body);
        return out.toString();
    }

    private JinjaException located(TemplateError e, int line) {
        return new JinjaException(templateName, line, e.getMessage(), e.raisedByTemplate);
    }

    private void emit(String s) {
        if (out.length() + s.length() > MAX_OUTPUT_CHARS) {
            throw new TemplateError("rendered text exceeds " + MAX_OUTPUT_CHARS + " characters");
        }
        out.append(s);
    }

    // ---- statements ----

    private Flow exec(List<Stmt> body) {
        for (Stmt s : body) {
            Flow f;
            try {
                f = exec(s);
            } catch (TemplateError e) {
                throw located(e, s.line());
            }
            if (f != Flow.NORMAL) return f;
        }
        return Flow.NORMAL;
    }

    private Flow exec(Stmt stmt) {
        switch (stmt) {
            case Ast.Text t -> emit(t.text());
            case Ast.Print p -> emit(Values.str(eval(p.value())));
            case Ast.If i -> {
                for (Ast.IfBranch b : i.branches()) {
                    if (Values.truthy(eval(b.test()))) return exec(b.body());
                }
                return exec(i.otherwise());
            }
            case Ast.For f -> {
                return execFor(f);
            }
            case Ast.Set s -> assign(s.target(), eval(s.value()));
            case Ast.SetBlock s -> {
                int mark = out.length();
                Flow flow = exec(s.body());
                String captured = out.substring(mark);
                out.setLength(mark);
                assign(s.target(), captured);
                return flow;
            }
            case Ast.Break b -> {
                return Flow.BREAK;
            }
            case Ast.Continue c -> {
                return Flow.CONTINUE;
            }
            case Ast.Block b -> {
                return exec(b.body());
            }
            case Ast.Macro m -> scope.vars.put(m.name(), new MacroFunction(m, scope));
            case Ast.CallBlock c -> {
                Arguments args = arguments(c.call());
                args.keywords.put("caller", new MacroFunction(c.caller(), scope));
                emit(Values.str(call(eval(c.call().function()), args)));
            }
        }
        return Flow.NORMAL;
    }

    /**
     * A defined macro. Its body runs in a new scope whose parent is the scope it was defined in (so it sees that
     * scope's variables as they are at call time), and its output is returned as a string instead of printed.
     */
    private final class MacroFunction implements JinjaFunction {
        private final Ast.Macro macro;
        private final Scope closure;

        MacroFunction(Ast.Macro macro, Scope closure) {
            this.macro = macro;
            this.closure = closure;
        }

        @Override
        public Object call(Arguments args) {
            String name = PyStrings.repr(macro.name());
            List<String> params = macro.params();
            if (args.positional.size() > params.size() && !macro.catchVarargs()) {
                throw new TemplateError("macro " + name + " takes not more than " + params.size() + " argument(s)");
            }
            if (macroDepth >= MAX_MACRO_DEPTH) throw new TemplateError("macro calls nested more than " + MAX_MACRO_DEPTH + " deep");
            Scope saved = scope;
            int mark = out.length();
            scope = new Scope(closure);
            macroDepth++;
            try {
                Map<String, Object> keywords = new LinkedHashMap<>(args.keywords);
                if (macro.catchCaller()) {
                    Object caller = keywords.remove("caller");
                    scope.vars.put("caller", caller != null ? caller : new Undefined("No caller defined"));
                }
                Map<String, Object> extraKeywords = new LinkedHashMap<>();
                for (Map.Entry<String, Object> kw : keywords.entrySet()) {
                    int index = params.indexOf(kw.getKey());
                    if (index < 0) {
                        if (!macro.catchKwargs()) throw new TemplateError("macro " + name + " takes no keyword argument " + PyStrings.repr(kw.getKey()));
                        extraKeywords.put(kw.getKey(), kw.getValue());
                    } else if (index < args.positional.size()) {
                        throw new TemplateError("macro " + name + " got multiple values for argument " + PyStrings.repr(kw.getKey()));
                    }
                }
                for (int i = 0; i < params.size(); i++) {
                    String param = params.get(i);
                    Object value;
                    if (i < args.positional.size()) value = args.positional.get(i);
                    else if (keywords.containsKey(param)) value = keywords.get(param);
                    else if (macro.defaults().get(i) != null) value = eval(macro.defaults().get(i));
                    else value = new Undefined("parameter " + PyStrings.repr(param) + " was not provided");
                    scope.vars.put(param, value);
                }
                if (macro.catchVarargs()) {
                    List<Object> extra = args.positional.size() > params.size()
                            ? args.positional.subList(params.size(), args.positional.size()) : List.of();
                    scope.vars.put("varargs", new PyTuple(extra));
                }
                if (macro.catchKwargs()) scope.vars.put("kwargs", extraKeywords);
                exec(macro.body());
                return out.substring(mark);
            } finally {
                out.setLength(mark);
                scope = saved;
                macroDepth--;
            }
        }

        @Override
        public String describe() {
            return "<Macro " + PyStrings.repr(macro.name()) + ">";
        }
    }

    private Flow execFor(Ast.For f) {
        List<Object> items = Values.iterate(eval(f.iterable()));
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Scope saved = scope;
                scope = new Scope(saved);
                try {
                    bind(f.target(), item);
                    if (Values.truthy(eval(f.filter()))) kept.add(item);
                } finally {
                    scope = saved;
                }
            }
            items = kept;
        }
        if (items.isEmpty()) return exec(f.otherwise());
        for (int i = 0; i < items.size(); i++) {
            Scope saved = scope;
            scope = new Scope(saved);
            try {
                bind(f.target(), items.get(i));
                scope.vars.put("loop", new LoopState(items, i));
                if (exec(f.body()) == Flow.BREAK) break;
            } finally {
                scope = saved;
            }
        }
        return Flow.NORMAL;
    }

    private void assign(Target target, Object value) {
        if (target instanceof Ast.AttrTarget a) {
            Object owner = lookup(a.name());
            if (!(owner instanceof Namespace ns)) {
                throw new TemplateError("cannot assign attribute on non-namespace object");
            }
            ns.set(a.attribute(), value);
        } else {
            bind(target, value);
        }
    }

    /** Binds names in the current scope; tuple targets unpack like Python. */
    private void bind(Target target, Object value) {
        switch (target) {
            case Ast.NameTarget n -> scope.vars.put(n.name(), value);
            case Ast.TupleTarget t -> {
                List<Object> items = Values.iterate(value);
                if (items.size() != t.items().size()) {
                    throw new TemplateError(items.size() > t.items().size()
                            ? "too many values to unpack (expected " + t.items().size() + ")"
                            : "not enough values to unpack (expected " + t.items().size() + ", got " + items.size() + ")");
                }
                for (int i = 0; i < items.size(); i++) bind(t.items().get(i), items.get(i));
            }
            case Ast.AttrTarget a -> throw new TemplateError("cannot unpack into an attribute");
        }
    }

    private Object lookup(String name) {
        for (Scope s = scope; s != null; s = s.parent) {
            if (s.vars.containsKey(name)) return s.vars.get(name);
        }
        return Undefined.variable(name);
    }

    // ---- expressions ----

    private Object eval(Expr e) {
        try {
            return evalInner(e);
        } catch (TemplateError error) {
            throw located(error, e.line());
        }
    }

    private Object evalInner(Expr expr) {
        return switch (expr) {
            case Ast.Const c -> c.value();
            case Ast.Name n -> lookup(n.name());
            case Ast.GetAttr g -> Values.getAttr(eval(g.target()), g.attribute());
            case Ast.GetItem g -> Values.getItem(eval(g.target()), eval(g.key()));
            case Ast.Slice s -> Values.slice(eval(s.target()), evalOrNull(s.start()), evalOrNull(s.stop()), evalOrNull(s.step()));
            case Ast.Call c -> {
                Object function = eval(c.function());
                yield call(function, arguments(c));
            }
            case Ast.Filter f -> Filters.apply(f.name(), eval(f.value()), arguments(f.args(), f.kwargs()));
            case Ast.Test t -> {
                boolean result = Tests.apply(t.name(), eval(t.value()), arguments(t.args(), t.kwargs()));
                yield t.negated() != result;
            }
            case Ast.Unary u -> switch (u.op()) {
                case "not" -> !Values.truthy(eval(u.operand()));
                case "-" -> Values.negate(eval(u.operand()));
                default -> Values.plus(eval(u.operand()));
            };
            case Ast.Binary b -> binary(b);
            case Ast.Compare c -> compare(c);
            case Ast.CondExpr c -> {
                if (Values.truthy(eval(c.test()))) yield eval(c.then());
                yield c.otherwise() == null
                        ? new Undefined("the inline if-expression on line " + c.line()
                                + " evaluated to false and no else section was defined.")
                        : eval(c.otherwise());
            }
            case Ast.ListLiteral l -> {
                List<Object> items = new ArrayList<>(l.items().size());
                for (Expr item : l.items()) items.add(eval(item));
                yield items;
            }
            case Ast.TupleLiteral t -> {
                List<Object> items = new ArrayList<>(t.items().size());
                for (Expr item : t.items()) items.add(eval(item));
                yield new PyTuple(items);
            }
            case Ast.DictLiteral d -> {
                Map<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Object key = eval(d.keys().get(i));
                    if (key instanceof List && !(key instanceof PyTuple) || key instanceof Map || key instanceof Undefined) {
                        throw new TemplateError("unhashable type: '" + Values.typeName(key) + "'");
                    }
                    map.put(key, eval(d.values().get(i)));
                }
                yield map;
            }
        };
    }

    private Object evalOrNull(Expr e) {
        return e == null ? null : eval(e);
    }

    private Arguments arguments(List<Expr> args, List<Ast.Keyword> kwargs) {
        List<Object> positional = new ArrayList<>(args.size());
        for (Expr a : args) positional.add(eval(a));
        Map<String, Object> keywords = new LinkedHashMap<>();
        for (Ast.Keyword k : kwargs) {
            if (keywords.containsKey(k.name())) throw new TemplateError("keyword argument repeated: " + k.name());
            keywords.put(k.name(), eval(k.value()));
        }
        return new Arguments(positional, keywords);
    }

    private Arguments arguments(Ast.Call c) {
        Arguments args = arguments(c.args(), c.kwargs());
        if (c.dynArgs() != null) args.positional.addAll(Values.iterate(eval(c.dynArgs())));
        if (c.dynKwargs() != null) {
            Object extra = eval(c.dynKwargs());
            if (!(extra instanceof Map<?, ?> map)) {
                throw new TemplateError("argument after ** must be a mapping, not " + Values.typeName(extra));
            }
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!(e.getKey() instanceof String key)) throw new TemplateError("keywords must be strings");
                if (args.keywords.containsKey(key)) throw new TemplateError("got multiple values for keyword argument '" + key + "'");
                args.keywords.put(key, e.getValue());
            }
        }
        return args;
    }

    private static Object call(Object function, Arguments args) {
        if (function instanceof JinjaFunction f) return f.call(args);
        if (function instanceof Undefined u) throw u.fail();
        throw new TemplateError("'" + Values.typeName(function) + "' object is not callable");
    }

    private Object binary(Ast.Binary b) {
        switch (b.op()) {
            case "and" -> {
                Object left = eval(b.left());
                return Values.truthy(left) ? eval(b.right()) : left;
            }
            case "or" -> {
                Object left = eval(b.left());
                return Values.truthy(left) ? left : eval(b.right());
            }
            case "~" -> {
                return Values.checkSize(Values.str(eval(b.left())) + Values.str(eval(b.right())));
            }
            default -> {
                return Values.binary(b.op(), eval(b.left()), eval(b.right()));
            }
        }
    }

    private Object compare(Ast.Compare c) {
        Object left = eval(c.first());
        for (int i = 0; i < c.ops().size(); i++) {
            Object right = eval(c.rest().get(i));
            String op = c.ops().get(i);
            boolean ok = switch (op) {
                case "==" -> Values.equal(left, right);
                case "!=" -> !Values.equal(left, right);
                case "<" -> Values.compare(left, right, op) < 0;
                case "<=" -> Values.compare(left, right, op) <= 0;
                case ">" -> Values.compare(left, right, op) > 0;
                case ">=" -> Values.compare(left, right, op) >= 0;
                case "in" -> Values.contains(right, left);
                case "notin" -> !Values.contains(right, left);
                default -> throw new IllegalStateException(op);
            };
            if (!ok) return false;
            left = right;
        }
        return true;
    }
}
