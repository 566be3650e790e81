package moice.tokenizer.jinja;

/** Something a template can call: a global such as {@code range}, or a bound method such as {@code s.strip}. */
interface JinjaFunction {
    Object call(Arguments args);

    /** Shown by {@code {{ f }}}; Python prints callables as {@code <built-in ...>}. */
    String describe();
}
