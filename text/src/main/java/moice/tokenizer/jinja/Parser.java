package moice.tokenizer.jinja;

import moice.tokenizer.jinja.Ast.Expr;
import moice.tokenizer.jinja.Ast.Stmt;
import moice.tokenizer.jinja.Ast.Target;
import moice.tokenizer.jinja.Lexer.Kind;
import moice.tokenizer.jinja.Lexer.Token;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Recursive-descent parser over {@link Lexer} tokens, following jinja2's grammar and operator precedence (lowest
 * first): {@code x if c else y}, {@code or}, {@code and}, {@code not}, comparisons and {@code in}, {@code + -},
 * {@code ~}, {@code * / // %}, {@code **} (left-associative, as in jinja2), unary {@code - +}, then primaries with
 * {@code .attr}, {@code [key]}, {@code [a:b:c]}, calls, and {@code | filter} / {@code is test}, which bind tighter than
 * any binary operator ({@code a + b | trim} is {@code a + (b | trim)}).
 */
final class Parser {
    private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", "<=", ">", ">=");

    /** Deeper nesting than this is rejected rather than risking the Java stack; real templates nest a few levels. */
    private static final int MAX_NESTING = 200;

    private final List<Token> tokens;
    private final String templateName;
    private int pos;
    private int loopDepth;
    private int nesting;

    private void enter() {
        if (++nesting > MAX_NESTING) {
            throw error(current().line(), "template nests more than " + MAX_NESTING + " levels deep");
        }
    }

    private Parser(List<Token> tokens, String templateName) {
        this.tokens = tokens;
        this.templateName = templateName;
    }

    static List<Stmt> parse(String source, String templateName) {
        Parser p = new Parser(Lexer.tokenize(source, templateName), templateName);
        List<Stmt> body = p.subparse(Set.of());
        if (p.current().kind() != Kind.EOF) {
            throw p.error(p.current().line(), "unexpected " + p.current().describe());
        }
        return body;
    }

    // ---- token stream ----

    private Token current() {
        return tokens.get(pos);
    }

    private Token look() {
        return tokens.get(Math.min(pos + 1, tokens.size() - 1));
    }

    private Token next() {
        Token t = tokens.get(pos);
        if (t.kind() != Kind.EOF) pos++;
        return t;
    }

    private JinjaException error(int line, String detail) {
        return new JinjaException(templateName, line, detail, false);
    }

    private Token expect(Kind kind, String what) {
        Token t = current();
        if (t.kind() != kind) throw error(t.line(), "expected " + what + ", got " + t.describe());
        return next();
    }

    private void expectOp(String op) {
        Token t = current();
        if (!t.isOp(op)) throw error(t.line(), "expected '" + op + "', got " + t.describe());
        next();
    }

    private void expectName(String name) {
        Token t = current();
        if (!t.isName(name)) throw error(t.line(), "expected '" + name + "', got " + t.describe());
        next();
    }

    private boolean skipOp(String op) {
        if (current().isOp(op)) {
            next();
            return true;
        }
        return false;
    }

    private boolean skipName(String name) {
        if (current().isName(name)) {
            next();
            return true;
        }
        return false;
    }

    // ---- statements ----

    /**
     * Statements up to a block tag whose name is in {@code endTags}; on return the block's {@code {%} is consumed and
     * the current token is the end tag's name (or EOF).
     */
    private List<Stmt> subparse(Set<String> endTags) {
        List<Stmt> body = new ArrayList<>();
        while (true) {
            Token t = current();
            switch (t.kind()) {
                case EOF -> {
                    return body;
                }
                case TEXT -> {
                    body.add(new Ast.Text(t.text(), t.line()));
                    next();
                }
                case VAR_BEGIN -> {
                    next();
                    Expr value = parseTuple(true, false, Set.of());
                    expect(Kind.VAR_END, "end of print statement");
                    body.add(new Ast.Print(value, t.line()));
                }
                case BLOCK_BEGIN -> {
                    next();
                    Token name = current();
                    if (name.kind() == Kind.NAME && endTags.contains(name.text())) return body;
                    body.add(parseStatement());
                    expect(Kind.BLOCK_END, "end of statement block");
                }
                default -> throw error(t.line(), "unexpected " + t.describe());
            }
        }
    }

    /** After the opening tag's expression: {@code %}}, the body, and the end tag (consumed if dropNeedle). */
    private List<Stmt> parseStatements(Set<String> endTags, boolean dropNeedle, String opener, int line) {
        skipOp(":");
        expect(Kind.BLOCK_END, "end of statement block");
        List<Stmt> body = subparse(endTags);
        if (current().kind() == Kind.EOF) {
            throw error(current().line(), "unexpected end of template: the '" + opener + "' block opened on line "
                    + line + " is never closed (expected " + String.join(" or ", endTags.stream().sorted().toList()) + ")");
        }
        if (dropNeedle) next();
        return body;
    }

    private Stmt parseStatement() {
        enter();
        try {
            return parseStatementInner();
        } finally {
            nesting--;
        }
    }

    private Stmt parseStatementInner() {
        Token t = current();
        if (t.kind() != Kind.NAME) throw error(t.line(), "tag name expected");
        return switch (t.text()) {
            case "if" -> parseIf();
            case "for" -> parseFor();
            case "set" -> parseSet();
            case "break", "continue" -> {
                next();
                if (loopDepth == 0) throw error(t.line(), "'" + t.text() + "' outside of a loop");
                yield t.text().equals("break") ? new Ast.Break(t.line()) : new Ast.Continue(t.line());
            }
            case "generation" -> {
                next();
                yield new Ast.Block(parseStatements(Set.of("endgeneration"), true, "generation", t.line()), t.line());
            }
            case "macro" -> parseMacro();
            case "call" -> parseCallBlock();
            case "filter", "with", "include", "import", "from", "extends", "block", "autoescape", "do" ->
                    throw error(t.line(), "the '" + t.text() + "' tag is not supported by this chat template engine");
            default -> throw error(t.line(), "Encountered unknown tag '" + t.text() + "'.");
        };
    }

    private Stmt parseIf() {
        int line = next().line();
        List<Ast.IfBranch> branches = new ArrayList<>();
        List<Stmt> otherwise = List.of();
        while (true) {
            Expr test = parseTuple(false, false, Set.of());
            List<Stmt> body = parseStatements(Set.of("elif", "else", "endif"), false, "if", line);
            branches.add(new Ast.IfBranch(test, body));
            Token end = next();
            if (end.isName("elif")) continue;
            if (end.isName("else")) otherwise = parseStatements(Set.of("endif"), true, "if", line);
            break;
        }
        return new Ast.If(branches, otherwise, line);
    }

    private Stmt parseFor() {
        int line = next().line();
        Target target = parseAssignTarget(false, Set.of("in"));
        expectName("in");
        Expr iterable = parseTuple(false, false, Set.of("recursive"));
        Expr filter = skipName("if") ? parseExpression(true) : null;
        if (current().isName("recursive")) throw error(current().line(), "recursive loops are not supported");
        loopDepth++;
        List<Stmt> body = parseStatements(Set.of("endfor", "else"), false, "for", line);
        loopDepth--;
        List<Stmt> otherwise = List.of();
        if (next().isName("else")) otherwise = parseStatements(Set.of("endfor"), true, "for", line);
        return new Ast.For(target, iterable, filter, body, otherwise, line);
    }

    private Stmt parseMacro() {
        int line = next().line();
        String name = expect(Kind.NAME, "macro name").text();
        Signature signature = parseSignature();
        int savedLoopDepth = loopDepth;
        loopDepth = 0; // a loop around the definition does not make break/continue valid in the body
        List<Stmt> body = parseStatements(Set.of("endmacro"), true, "macro", line);
        loopDepth = savedLoopDepth;
        return new Ast.Macro(name, signature.params(), signature.defaults(), body, reads(body, "varargs"),
                reads(body, "kwargs"), reads(body, "caller"), line);
    }

    /** {@code {% call(params) target(args) %}body{% endcall %}}: the body becomes a macro named "caller". */
    private Stmt parseCallBlock() {
        int line = next().line();
        Signature signature = current().isOp("(") ? parseSignature() : new Signature(List.of(), List.of());
        Expr call = parseExpression(true);
        if (!(call instanceof Ast.Call c)) throw error(line, "expected call");
        int savedLoopDepth = loopDepth;
        loopDepth = 0;
        List<Stmt> body = parseStatements(Set.of("endcall"), true, "call", line);
        loopDepth = savedLoopDepth;
        Ast.Macro caller = new Ast.Macro("caller", signature.params(), signature.defaults(), body,
                reads(body, "varargs"), reads(body, "kwargs"), false, line);
        return new Ast.CallBlock(c, caller, line);
    }

    private record Signature(List<String> params, List<Expr> defaults) { }

    /** {@code (a, b=default)}: parameter names and default expressions (null where absent). */
    private Signature parseSignature() {
        expectOp("(");
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        while (!current().isOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            if (current().isOp(")")) break;
            Token param = expect(Kind.NAME, "parameter name");
            if (params.contains(param.text())) throw error(param.line(), "duplicate argument '" + param.text() + "' in macro");
            params.add(param.text());
            if (skipOp("=")) {
                defaults.add(parseExpression(true));
            } else {
                if (defaults.stream().anyMatch(java.util.Objects::nonNull)) {
                    throw error(param.line(), "non-default argument follows default argument");
                }
                defaults.add(null);
            }
        }
        expectOp(")");
        return new Signature(params, defaults);
    }

    /** Whether any expression in the statements reads the variable {@code name} (jinja2 decides this statically). */
    private static boolean reads(List<Stmt> body, String name) {
        for (Stmt s : body) if (reads(s, name)) return true;
        return false;
    }

    private static boolean reads(Stmt s, String name) {
        return switch (s) {
            case Ast.Text t -> false;
            case Ast.Print p -> reads(p.value(), name);
            case Ast.If i -> i.branches().stream().anyMatch(b -> reads(b.test(), name) || reads(b.body(), name))
                    || reads(i.otherwise(), name);
            case Ast.For f -> reads(f.iterable(), name) || (f.filter() != null && reads(f.filter(), name))
                    || reads(f.body(), name) || reads(f.otherwise(), name);
            case Ast.Set set -> reads(set.value(), name);
            case Ast.SetBlock b -> reads(b.body(), name);
            case Ast.Macro m -> false; // a nested macro has its own varargs/kwargs/caller
            case Ast.CallBlock c -> reads(c.call(), name);
            case Ast.Break b -> false;
            case Ast.Continue c -> false;
            case Ast.Block b -> reads(b.body(), name);
        };
    }

    private static boolean reads(Expr e, String name) {
        if (e == null) return false;
        return switch (e) {
            case Ast.Const c -> false;
            case Ast.Name n -> n.name().equals(name);
            case Ast.GetAttr g -> reads(g.target(), name);
            case Ast.GetItem g -> reads(g.target(), name) || reads(g.key(), name);
            case Ast.Slice sl -> reads(sl.target(), name) || reads(sl.start(), name) || reads(sl.stop(), name) || reads(sl.step(), name);
            case Ast.Call c -> reads(c.function(), name) || readsAny(c.args(), name) || reads(c.dynArgs(), name)
                    || reads(c.dynKwargs(), name) || c.kwargs().stream().anyMatch(k -> reads(k.value(), name));
            case Ast.Filter f -> reads(f.value(), name) || readsAny(f.args(), name) || f.kwargs().stream().anyMatch(k -> reads(k.value(), name));
            case Ast.Test t -> reads(t.value(), name) || readsAny(t.args(), name) || t.kwargs().stream().anyMatch(k -> reads(k.value(), name));
            case Ast.Unary u -> reads(u.operand(), name);
            case Ast.Binary b -> reads(b.left(), name) || reads(b.right(), name);
            case Ast.Compare c -> reads(c.first(), name) || readsAny(c.rest(), name);
            case Ast.CondExpr c -> reads(c.test(), name) || reads(c.then(), name) || reads(c.otherwise(), name);
            case Ast.ListLiteral l -> readsAny(l.items(), name);
            case Ast.TupleLiteral t -> readsAny(t.items(), name);
            case Ast.DictLiteral d -> readsAny(d.keys(), name) || readsAny(d.values(), name);
        };
    }

    private static boolean readsAny(List<Expr> exprs, String name) {
        for (Expr e : exprs) if (reads(e, name)) return true;
        return false;
    }

    private Stmt parseSet() {
        int line = next().line();
        Target target = parseAssignTarget(true, Set.of());
        if (skipOp("=")) return new Ast.Set(target, parseTuple(true, false, Set.of()), line);
        if (current().isOp("|")) throw error(current().line(), "filtered block assignment is not supported");
        return new Ast.SetBlock(target, parseStatements(Set.of("endset"), true, "set", line), line);
    }

    private Target parseAssignTarget(boolean withNamespace, Set<String> extraEnd) {
        if (withNamespace && current().kind() == Kind.NAME && look().isOp(".")) {
            String name = next().text();
            next();
            String attribute = expect(Kind.NAME, "attribute name").text();
            return new Ast.AttrTarget(name, attribute);
        }
        int line = current().line();
        return toTarget(parseTupleOfPrimaries(extraEnd), line);
    }

    private Expr parseTupleOfPrimaries(Set<String> extraEnd) {
        int line = current().line();
        List<Expr> items = new ArrayList<>();
        boolean isTuple = false;
        while (true) {
            if (!items.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            items.add(parsePrimary());
            if (current().isOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple && items.size() == 1) return items.get(0);
        if (items.isEmpty()) throw error(line, "expected an assignment target, got " + current().describe());
        return new Ast.TupleLiteral(items, line);
    }

    private Target toTarget(Expr e, int line) {
        if (e instanceof Ast.Name n) return new Ast.NameTarget(n.name());
        if (e instanceof Ast.TupleLiteral t) {
            List<Target> items = new ArrayList<>();
            for (Expr item : t.items()) items.add(toTarget(item, line));
            return new Ast.TupleTarget(items);
        }
        throw error(line, "can't assign to " + e.getClass().getSimpleName().toLowerCase());
    }

    // ---- expressions ----

    private boolean isTupleEnd(Set<String> extraEnd) {
        Token t = current();
        return t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.kind() == Kind.EOF || t.isOp(")")
                || (t.kind() == Kind.NAME && extraEnd.contains(t.text()));
    }

    /** jinja2's parse_tuple: one expression, or a tuple when commas follow. */
    private Expr parseTuple(boolean withCondExpr, boolean explicitParentheses, Set<String> extraEnd) {
        int line = current().line();
        List<Expr> items = new ArrayList<>();
        boolean isTuple = false;
        while (true) {
            if (!items.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            items.add(parseExpression(withCondExpr));
            if (current().isOp(",")) isTuple = true;
            else break;
        }
        if (!isTuple) {
            if (!items.isEmpty()) return items.get(0);
            if (!explicitParentheses) throw error(line, "Expected an expression, got " + current().describe());
        }
        return new Ast.TupleLiteral(items, line);
    }

    private Expr parseExpression(boolean withCondExpr) {
        return withCondExpr ? parseCondExpr() : parseOr();
    }

    private Expr parseCondExpr() {
        int line = current().line();
        Expr expr = parseOr();
        while (skipName("if")) {
            Expr test = parseOr();
            Expr otherwise = skipName("else") ? parseCondExpr() : null;
            expr = new Ast.CondExpr(test, expr, otherwise, line);
            line = current().line();
        }
        return expr;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        while (current().isName("or")) {
            int line = next().line();
            left = new Ast.Binary("or", left, parseAnd(), line);
        }
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        while (current().isName("and")) {
            int line = next().line();
            left = new Ast.Binary("and", left, parseNot(), line);
        }
        return left;
    }

    private Expr parseNot() {
        if (current().isName("not")) {
            int line = next().line();
            enter();
            try {
                return new Ast.Unary("not", parseNot(), line);
            } finally {
                nesting--;
            }
        }
        return parseCompare();
    }

    private Expr parseCompare() {
        int line = current().line();
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = current();
            if (t.kind() == Kind.OP && COMPARE_OPS.contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && look().isName("in")) {
                next();
                next();
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Ast.Compare(first, ops, rest, line);
    }

    private Expr parseMath1() {
        Expr left = parseConcat();
        while (current().isOp("+") || current().isOp("-")) {
            Token op = next();
            left = new Ast.Binary(op.text(), left, parseConcat(), op.line());
        }
        return left;
    }

    private Expr parseConcat() {
        Expr left = parseMath2();
        while (current().isOp("~")) {
            int line = next().line();
            left = new Ast.Binary("~", left, parseMath2(), line);
        }
        return left;
    }

    private Expr parseMath2() {
        Expr left = parsePow();
        while (current().isOp("*") || current().isOp("/") || current().isOp("//") || current().isOp("%")) {
            Token op = next();
            left = new Ast.Binary(op.text(), left, parsePow(), op.line());
        }
        return left;
    }

    private Expr parsePow() {
        Expr left = parseUnary(true);
        while (current().isOp("**")) {
            int line = next().line();
            left = new Ast.Binary("**", left, parseUnary(true), line);
        }
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        enter();
        try {
            return parseUnaryInner(withFilter);
        } finally {
            nesting--;
        }
    }

    private Expr parseUnaryInner(boolean withFilter) {
        Token t = current();
        Expr node;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            node = new Ast.Unary(t.text(), parseUnary(false), t.line());
        } else {
            node = parsePrimary();
        }
        node = parsePostfix(node);
        if (withFilter) node = parseFilterExpr(node);
        return node;
    }

    private Expr parsePrimary() {
        Token t = current();
        switch (t.kind()) {
            case NAME -> {
                next();
                return switch (t.text()) {
                    case "true", "True" -> new Ast.Const(Boolean.TRUE, t.line());
                    case "false", "False" -> new Ast.Const(Boolean.FALSE, t.line());
                    case "none", "None" -> new Ast.Const(null, t.line());
                    default -> new Ast.Name(t.text(), t.line());
                };
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder();
                while (current().kind() == Kind.STRING) sb.append((String) next().value());
                return new Ast.Const(sb.toString(), t.line());
            }
            case INTEGER, FLOAT -> {
                next();
                return new Ast.Const(t.value(), t.line());
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        next();
                        Expr e = parseTuple(true, true, Set.of());
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        next();
                        List<Expr> items = new ArrayList<>();
                        while (!current().isOp("]")) {
                            if (!items.isEmpty()) expectOp(",");
                            if (current().isOp("]")) break;
                            items.add(parseExpression(true));
                        }
                        expectOp("]");
                        return new Ast.ListLiteral(items, t.line());
                    }
                    case "{" -> {
                        next();
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!current().isOp("}")) {
                            if (!keys.isEmpty()) expectOp(",");
                            if (current().isOp("}")) break;
                            keys.add(parseExpression(true));
                            expectOp(":");
                            values.add(parseExpression(true));
                        }
                        expectOp("}");
                        return new Ast.DictLiteral(keys, values, t.line());
                    }
                    default -> { }
                }
            }
            default -> { }
        }
        throw error(t.line(), "unexpected " + t.describe());
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            Token t = current();
            if (t.isOp(".")) {
                next();
                Token attr = next();
                if (attr.kind() == Kind.NAME) node = new Ast.GetAttr(node, attr.text(), t.line());
                else if (attr.kind() == Kind.INTEGER) node = new Ast.GetItem(node, new Ast.Const(attr.value(), attr.line()), t.line());
                else throw error(attr.line(), "expected name or number");
            } else if (t.isOp("[")) {
                node = parseSubscript(node);
            } else if (t.isOp("(")) {
                node = parseCall(node);
            } else {
                return node;
            }
        }
    }

    private Expr parseSubscript(Expr node) {
        int line = next().line();
        List<Expr> keys = new ArrayList<>();
        Ast.Slice slice = null;
        while (!current().isOp("]")) {
            if (!keys.isEmpty() || slice != null) expectOp(",");
            Expr key = parseSubscribed(node, line);
            if (key instanceof Ast.Slice s) slice = s;
            else keys.add(key);
        }
        expectOp("]");
        if (slice != null) {
            if (!keys.isEmpty()) throw error(line, "slices inside tuple subscripts are not supported");
            return slice;
        }
        if (keys.isEmpty()) throw error(line, "expected a subscript");
        return new Ast.GetItem(node, keys.size() == 1 ? keys.get(0) : new Ast.TupleLiteral(keys, line), line);
    }

    private Expr parseSubscribed(Expr target, int line) {
        Expr start = null;
        if (current().isOp(":")) {
            next();
        } else {
            start = parseExpression(true);
            if (!current().isOp(":")) return start;
            next();
        }
        Expr stop = null;
        if (!current().isOp(":") && !current().isOp("]") && !current().isOp(",")) stop = parseExpression(true);
        Expr step = null;
        if (skipOp(":") && !current().isOp("]") && !current().isOp(",")) step = parseExpression(true);
        return new Ast.Slice(target, start, stop, step, line);
    }

    private record CallArgs(List<Expr> args, List<Ast.Keyword> kwargs, Expr dynArgs, Expr dynKwargs) {
        CallArgs(List<Expr> args, List<Ast.Keyword> kwargs) {
            this(args, kwargs, null, null);
        }
    }

    private CallArgs parseCallArgs() {
        Token open = current();
        expectOp("(");
        List<Expr> args = new ArrayList<>();
        List<Ast.Keyword> kwargs = new ArrayList<>();
        Expr dynArgs = null;
        Expr dynKwargs = null;
        boolean requireComma = false;
        while (!current().isOp(")")) {
            if (requireComma) {
                expectOp(",");
                if (current().isOp(")")) break;
            }
            if (current().isOp("*")) {
                if (dynArgs != null || dynKwargs != null) throw error(open.line(), "invalid syntax for function call expression");
                next();
                dynArgs = parseExpression(true);
            } else if (current().isOp("**")) {
                if (dynKwargs != null) throw error(open.line(), "invalid syntax for function call expression");
                next();
                dynKwargs = parseExpression(true);
            } else if (current().kind() == Kind.NAME && look().isOp("=")) {
                if (dynKwargs != null) throw error(open.line(), "invalid syntax for function call expression");
                String key = next().text();
                next();
                kwargs.add(new Ast.Keyword(key, parseExpression(true)));
            } else {
                if (!kwargs.isEmpty() || dynArgs != null || dynKwargs != null) {
                    throw error(open.line(), "invalid syntax for function call expression");
                }
                args.add(parseExpression(true));
            }
            requireComma = true;
        }
        expectOp(")");
        return new CallArgs(args, kwargs, dynArgs, dynKwargs);
    }

    private Expr parseCall(Expr function) {
        int line = current().line();
        CallArgs a = parseCallArgs();
        return new Ast.Call(function, a.args(), a.kwargs(), a.dynArgs(), a.dynKwargs(), line);
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            Token t = current();
            if (t.isOp("|")) {
                node = parseFilters(node);
            } else if (t.isName("is")) {
                node = parseTest(node);
            } else if (t.isOp("(")) {
                node = parseCall(node);
            } else {
                return node;
            }
        }
    }

    private String dottedName() {
        StringBuilder name = new StringBuilder(expect(Kind.NAME, "a name").text());
        while (current().isOp(".")) {
            next();
            name.append('.').append(expect(Kind.NAME, "a name").text());
        }
        return name.toString();
    }

    private Expr parseFilters(Expr node) {
        while (current().isOp("|")) {
            next();
            int line = current().line();
            String name = dottedName();
            CallArgs a = current().isOp("(") ? parseCallArgs() : new CallArgs(List.of(), List.of());
            if (a.dynArgs() != null || a.dynKwargs() != null) throw error(line, "*args and **kwargs in filter calls are not supported");
            node = new Ast.Filter(node, name, a.args(), a.kwargs(), line);
        }
        return node;
    }

    private Expr parseTest(Expr node) {
        int line = next().line();
        boolean negated = skipName("not");
        String name = dottedName();
        CallArgs a;
        Token t = current();
        if (t.isOp("(")) {
            a = parseCallArgs();
        } else if ((t.kind() == Kind.NAME || t.kind() == Kind.STRING || t.kind() == Kind.INTEGER || t.kind() == Kind.FLOAT
                || t.isOp("(") || t.isOp("[") || t.isOp("{"))
                && !t.isName("else") && !t.isName("or") && !t.isName("and")) {
            if (t.isName("is")) throw error(t.line(), "You cannot chain multiple tests with is");
            a = new CallArgs(List.of(parsePostfix(parsePrimary())), List.of());
        } else {
            a = new CallArgs(List.of(), List.of());
        }
        if (a.dynArgs() != null || a.dynKwargs() != null) throw error(line, "*args and **kwargs in tests are not supported");
        return new Ast.Test(node, name, a.args(), a.kwargs(), negated, line);
    }
}
