package moice.tokenizer.jinja;

import java.util.List;

/** The {@code loop} variable inside {@code {% for %}}: position in the (filtered) sequence being iterated. */
final class LoopState {
    private final List<Object> items;
    private final int index0;

    LoopState(List<Object> items, int index0) {
        this.items = items;
        this.index0 = index0;
    }

    Object attribute(String name) {
        int n = items.size();
        return switch (name) {
            case "index0" -> (long) index0;
            case "index" -> (long) index0 + 1;
            case "revindex" -> (long) (n - index0);
            case "revindex0" -> (long) (n - index0 - 1);
            case "first" -> index0 == 0;
            case "last" -> index0 == n - 1;
            case "length" -> (long) n;
            case "depth" -> 1L;
            case "depth0" -> 0L;
            case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("there is no previous item");
            case "nextitem" -> index0 + 1 < n ? items.get(index0 + 1) : new Undefined("there is no next item");
            case "cycle" -> new JinjaFunction() {
                @Override
                public Object call(Arguments args) {
                    if (args.positional.isEmpty()) throw new TemplateError("no items for cycling given");
                    return args.positional.get(index0 % args.positional.size());
                }

                @Override
                public String describe() {
                    return "<bound method LoopContext.cycle>";
                }
            };
            default -> Undefined.member(this, name);
        };
    }

    @Override
    public String toString() {
        return "<LoopContext " + (index0 + 1) + "/" + items.size() + ">";
    }
}
