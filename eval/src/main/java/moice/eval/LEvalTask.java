package moice.eval;

import moice.MoiceException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * L-Eval closed-ended tasks ({@code LEval-data/Closed-ended-tasks/*.jsonl}): each line has a long {@code input}
 * document, {@code instructions} and matching {@code outputs}; every instruction is one sample. Prompts are L-Eval's
 * exam prompts (its system prompt per task, the document, the question, then {@code "\nAnswer:"} after the
 * generation prompt), the document is cut from the end by words until the prompt fits the length, as L-Eval does.
 * Scoring follows L-Eval's exact match: option letters for Coursera (several may be right; 0.25 for a strict subset),
 * QuALITY and TOEFL (TPO); the True/False judgement according to the document for SFiction (L-Eval's second,
 * closed-book "fact" question is not asked).
 */
public final class LEvalTask implements DataTask {
    /** The four closed-ended tasks of the MoICE paper, with L-Eval's system prompts. */
    public enum Kind {
        COURSERA("coursera", Metric.LEVAL_MULTI_OPTION, "Now you are given a very long document. Please follow the "
                + "instruction based on this document. For multi-choice questions, there could be a sinlge correct "
                + "option or multiple correct options. Please only provide the letter corresponding to the answer (like "
                + "A or AB) when answering. "),
        QUALITY("quality", Metric.LEVAL_SINGLE_OPTION, Kind.SINGLE_OPTION_PROMPT),
        TPO("tpo", Metric.LEVAL_SINGLE_OPTION, Kind.SINGLE_OPTION_PROMPT),
        SCI_FI("sci_fi", Metric.LEVAL_JUDGEMENT, "Now you are given a scientific fiction. I will ask you some questions "
                + "and the answer should be \"True\" or \"False\". Notice that you should answer the question based on "
                + "the evidence in the document instead of your background knowledge.");

        private static final String SINGLE_OPTION_PROMPT = "Now you are given a very long document. Please follow the "
                + "instruction based on this document. For multi-choice questions, there is only a sinlge correct "
                + "option. Please only provide the letter corresponding to the answer (like A or B) when answering. "
                + "For other questions, please directly give the concise and accurate answer. ";

        final String file;
        final Metric metric;
        final String systemPrompt;

        Kind(String file, Metric metric, String systemPrompt) {
            this.file = file;
            this.metric = metric;
            this.systemPrompt = systemPrompt;
        }

        /** The kind named as in L-Eval's file names: coursera, quality, tpo, sci_fi. */
        static Kind named(String name) {
            for (Kind k : values()) if (k.file.equals(name)) return k;
            throw new MoiceException("unknown L-Eval task '" + name + "'; expected coursera, quality, tpo or sci_fi");
        }
    }

    record Item(String document, String instruction, String output, String where) {}

    private final Kind kind;
    private final List<Item> items;

    private LEvalTask(Kind kind, List<Item> items) {
        this.kind = kind;
        this.items = items;
    }

    /** Reads {@code file}; every (document, instruction) pair becomes a sample. */
    public static LEvalTask read(Kind kind, Path file) {
        List<Item> items = new ArrayList<>();
        for (JsonLines.Line line : JsonLines.read(file)) {
            String input = line.string("input");
            List<String> instructions = line.strings("instructions");
            List<String> outputs = line.strings("outputs");
            if (instructions.size() != outputs.size())
                throw new MoiceException(line.where() + ": " + instructions.size() + " instructions but "
                        + outputs.size() + " outputs (expected one output per instruction)");
            for (int i = 0; i < instructions.size(); i++)
                items.add(new Item(input, instructions.get(i), outputs.get(i), line.where()));
        }
        return new LEvalTask(kind, items);
    }

    static String user(String document, String instruction) {
        return "Document is as follows. " + document + " \nQuestion: " + instruction
                + ".  Please directly give answer without any additonal output or explanation ";
    }

    static final String ANSWER_PREFIX = "\nAnswer:";

    @Override
    public String name() { return "leval-" + kind.file; }

    @Override
    public int size() { return items.size(); }

    @Override
    public Sample sample(int index, int length, PromptEncoder encoder) {
        Item item = items.get(index);
        String[] words = item.document().split(" ", -1);
        java.util.function.IntFunction<String> user = n ->
                user(String.join(" ", java.util.Arrays.asList(words).subList(0, n)), item.instruction());
        int n = Budget.largestFitting(0, words.length, length,
                k -> encoder.encode(kind.systemPrompt, user.apply(k), ANSWER_PREFIX).length,
                item.where() + ": the prompt without its document");
        String text = user.apply(n);
        return new Sample(kind.systemPrompt, text, ANSWER_PREFIX, List.of(item.output()), kind.metric, Double.NaN, 0,
                0, encoder.encode(kind.systemPrompt, text, ANSWER_PREFIX).length);
    }
}
