package moice.tokenizer.jinja;

import java.util.List;

/** The parsed template: statements and expressions, each carrying the template line it starts on. */
final class Ast {
    private Ast() {
    }

    sealed interface Expr {
        int line();
    }

    record Const(Object value, int line) implements Expr { }

    record Name(String name, int line) implements Expr { }

    record GetAttr(Expr target, String attribute, int line) implements Expr { }

    record GetItem(Expr target, Expr key, int line) implements Expr { }

    /** {@code target[start:stop:step]}; absent parts are null. */
    record Slice(Expr target, Expr start, Expr stop, Expr step, int line) implements Expr { }

    record Keyword(String name, Expr value) { }

    /** {@code function(args, key=value, *dynArgs, **dynKwargs)}; the dynamic parts may be null. */
    record Call(Expr function, List<Expr> args, List<Keyword> kwargs, Expr dynArgs, Expr dynKwargs, int line) implements Expr { }

    /** {@code value | name(args)}. */
    record Filter(Expr value, String name, List<Expr> args, List<Keyword> kwargs, int line) implements Expr { }

    /** {@code value is [not] name(args)}. */
    record Test(Expr value, String name, List<Expr> args, List<Keyword> kwargs, boolean negated, int line) implements Expr { }

    /** Operators: {@code not}, unary {@code -}, unary {@code +}. */
    record Unary(String op, Expr operand, int line) implements Expr { }

    /** Operators: {@code + - * / // % ** ~ and or}. */
    record Binary(String op, Expr left, Expr right, int line) implements Expr { }

    /** A comparison chain {@code a < b <= c}; ops are {@code == != < <= > >= in notin}. */
    record Compare(Expr first, List<String> ops, List<Expr> rest, int line) implements Expr { }

    /** {@code then if test else otherwise}; {@code otherwise} may be null. */
    record CondExpr(Expr test, Expr then, Expr otherwise, int line) implements Expr { }

    record ListLiteral(List<Expr> items, int line) implements Expr { }

    record TupleLiteral(List<Expr> items, int line) implements Expr { }

    record DictLiteral(List<Expr> keys, List<Expr> values, int line) implements Expr { }

    // ---- assignment targets ----

    sealed interface Target {
    }

    record NameTarget(String name) implements Target { }

    record TupleTarget(List<Target> items) implements Target { }

    /** {@code ns.attr} on the left of {@code set}. */
    record AttrTarget(String name, String attribute) implements Target { }

    // ---- statements ----

    sealed interface Stmt {
        int line();
    }

    record Text(String text, int line) implements Stmt { }

    record Print(Expr value, int line) implements Stmt { }

    record IfBranch(Expr test, List<Stmt> body) { }

    record If(List<IfBranch> branches, List<Stmt> otherwise, int line) implements Stmt { }

    record For(Target target, Expr iterable, Expr filter, List<Stmt> body, List<Stmt> otherwise, int line) implements Stmt { }

    record Set(Target target, Expr value, int line) implements Stmt { }

    /** {@code {% set name %}...{% endset %}}. */
    record SetBlock(Target target, List<Stmt> body, int line) implements Stmt { }

    record Break(int line) implements Stmt { }

    record Continue(int line) implements Stmt { }

    /**
     * {@code {% macro name(a, b=default) %}body{% endmacro %}}; {@code defaults} is aligned with {@code params}
     * (null where a parameter has none). The flags record whether the body reads {@code varargs} / {@code kwargs},
     * which is what lets jinja2 macros accept extra arguments.
     */
    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body, boolean catchVarargs,
                 boolean catchKwargs, boolean catchCaller, int line) implements Stmt { }

    /** {@code {% call(params) macro(args) %}body{% endcall %}}: calls the macro with {@code caller} = the body. */
    record CallBlock(Call call, Macro caller, int line) implements Stmt { }

    /** A statement list rendered in place: {@code {% generation %}} bodies (HF's assistant-mask extension). */
    record Block(List<Stmt> body, int line) implements Stmt { }
}
