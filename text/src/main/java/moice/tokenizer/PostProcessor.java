package moice.tokenizer;

import java.util.List;
import java.util.Optional;

/**
 * The {@code post_processor} step: adds special tokens around the ids of one sequence (HF's processors, single
 * sequence form). With {@code addSpecialTokens == false} every processor returns the ids unchanged.
 */
public sealed interface PostProcessor {
    int[] process(int[] ids, boolean addSpecialTokens);

    /** The special token this processor puts first, if any (a BOS candidate). */
    Optional<String> leadingToken();

    /** The special token this processor puts last, if any (an EOS candidate). */
    Optional<String> trailingToken();

    /**
     * One piece of a template: the sequence itself, or a special token's ids.
     *
     * @param name the special token's name in the template (e.g. "&lt;s&gt;"); null for the sequence
     * @param ids  the ids the special token stands for (empty for the sequence)
     */
    record TemplatePiece(String name, int[] ids) {
        /** The {@code $A} piece. */
        public static TemplatePiece sequence() {
            return new TemplatePiece(null, new int[0]);
        }

        public static TemplatePiece special(String name, int... ids) {
            return new TemplatePiece(name, ids.clone());
        }

        public boolean isSequence() {
            return name == null;
        }
    }

    /** TemplateProcessing's {@code single} template, e.g. {@code <s> $A} or {@code $A <|endoftext|>}. */
    record Template(List<TemplatePiece> single) implements PostProcessor {
        public Template {
            single = List.copyOf(single);
        }

        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            IntList out = new IntList(ids.length + 4);
            for (TemplatePiece p : single) {
                if (p.isSequence()) out.addAll(ids);
                else if (addSpecialTokens) out.addAll(p.ids());
            }
            return out.toArray();
        }

        @Override
        public Optional<String> leadingToken() {
            return single.isEmpty() || single.getFirst().isSequence() ? Optional.empty()
                    : Optional.of(single.getFirst().name());
        }

        @Override
        public Optional<String> trailingToken() {
            return single.isEmpty() || single.getLast().isSequence() ? Optional.empty()
                    : Optional.of(single.getLast().name());
        }
    }

    /** BertProcessing / RobertaProcessing: {@code cls} + ids + {@code sep}. */
    record ClsSep(String cls, int clsId, String sep, int sepId) implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            if (!addSpecialTokens) return ids;
            int[] out = new int[ids.length + 2];
            out[0] = clsId;
            System.arraycopy(ids, 0, out, 1, ids.length);
            out[ids.length + 1] = sepId;
            return out;
        }

        @Override
        public Optional<String> leadingToken() {
            return Optional.of(cls);
        }

        @Override
        public Optional<String> trailingToken() {
            return Optional.of(sep);
        }
    }

    /** ByteLevel as a post-processor only trims offsets, which ids do not carry: a no-op here. */
    record ByteLevel() implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            return ids;
        }

        @Override
        public Optional<String> leadingToken() {
            return Optional.empty();
        }

        @Override
        public Optional<String> trailingToken() {
            return Optional.empty();
        }
    }

    /** Applies the processors in order. */
    record Sequence(List<PostProcessor> steps) implements PostProcessor {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            for (PostProcessor p : steps) ids = p.process(ids, addSpecialTokens);
            return ids;
        }

        @Override
        public Optional<String> leadingToken() {
            for (PostProcessor p : steps.reversed()) {
                if (p.leadingToken().isPresent()) return p.leadingToken();
            }
            return Optional.empty();
        }

        @Override
        public Optional<String> trailingToken() {
            for (PostProcessor p : steps.reversed()) {
                if (p.trailingToken().isPresent()) return p.trailingToken();
            }
            return Optional.empty();
        }
    }
}
