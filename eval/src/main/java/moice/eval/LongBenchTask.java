package moice.eval;

import moice.MoiceException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * LongBench files ({@code data/<dataset>.jsonl}): each line has {@code input} (the question), {@code context},
 * {@code answers} and {@code dataset}. The English single- and multi-document QA sets are supported, with LongBench's
 * prompt per dataset and its {@code qa_f1_score} (token F1). A context too long for the length is cut in the middle
 * (its first and last halves kept), as LongBench does.
 */
public final class LongBenchTask implements DataTask {
    private static final String PASSAGES = "Answer the question based on the given passages. Only give me the answer "
            + "and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the "
            + "question based on the given passages. Only give me the answer and do not output any other words.\n\n"
            + "Question: {input}\nAnswer:";
    private static final String QASPER_RULES = " as concisely as you can, using a single phrase or sentence if "
            + "possible. If the question cannot be answered based on the information in the article, write "
            + "\"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do "
            + "not provide any explanation.";
    /** LongBench's prompt templates of the supported datasets. */
    static final Map<String, String> PROMPTS = Map.of(
            "narrativeqa", "You are given a story, which can be either a novel or a movie script, and a question. "
                    + "Answer the question asconcisely as you can, using a single phrase if possible. Do not provide "
                    + "any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story asconcisely "
                    + "as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: "
                    + "{input}\n\nAnswer:",
            "qasper", "You are given a scientific article and a question. Answer the question" + QASPER_RULES
                    + "\n\nArticle: {context}\n\n Answer the question based on the above article" + QASPER_RULES
                    + "\n\nQuestion: {input}\n\nAnswer:",
            "multifieldqa_en", "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following "
                    + "question based on the above text, only give me the answer and do not output any other words."
                    + "\n\nQuestion: {input}\nAnswer:",
            "hotpotqa", PASSAGES,
            "2wikimqa", PASSAGES,
            "musique", PASSAGES);

    record Item(String dataset, String context, String input, List<String> answers, String where) {}

    private final List<Item> items;

    private LongBenchTask(List<Item> items) {
        this.items = items;
    }

    /** Reads {@code file}; every line must name a supported {@code dataset}. */
    public static LongBenchTask read(Path file) {
        List<Item> items = new ArrayList<>();
        for (JsonLines.Line line : JsonLines.read(file)) {
            String dataset = line.string("dataset");
            if (!PROMPTS.containsKey(dataset))
                throw new MoiceException(line.where() + ": field 'dataset' is '" + dataset + "'; supported: "
                        + String.join(", ", new java.util.TreeSet<>(PROMPTS.keySet())));
            List<String> answers = line.strings("answers");
            if (answers.isEmpty()) throw new MoiceException(line.where() + ": field 'answers' is empty");
            items.add(new Item(dataset, line.string("context"), line.string("input"), answers, line.where()));
        }
        return new LongBenchTask(items);
    }

    static String prompt(String dataset, String context, String input) {
        // replace {input} first: a context may itself contain the text "{input}"
        return PROMPTS.get(dataset).replace("{input}", input).replace("{context}", context);
    }

    @Override
    public String name() { return "longbench"; }

    @Override
    public int size() { return items.size(); }

    @Override
    public Sample sample(int index, int length, PromptEncoder encoder) {
        Item item = items.get(index);
        String full = prompt(item.dataset(), item.context(), item.input());
        int tokens = encoder.encode(null, full, "").length;
        String text = full;
        if (tokens > length) {
            int[] ids = encoder.tokens(item.context());
            java.util.function.IntFunction<String> cut = keep -> prompt(item.dataset(),
                    encoder.text(java.util.Arrays.copyOfRange(ids, 0, keep / 2))
                            + encoder.text(java.util.Arrays.copyOfRange(ids, ids.length - (keep - keep / 2), ids.length)),
                    item.input());
            int keep = Budget.largestFitting(0, ids.length, length, k -> encoder.encode(null, cut.apply(k), "").length,
                    item.where() + ": the prompt without its context");
            text = cut.apply(keep);
            tokens = encoder.encode(null, text, "").length;
        }
        return new Sample(null, text, "", item.answers(), Metric.TOKEN_F1, Double.NaN, 0, 0, tokens);
    }
}
