package moice.eval;

import java.util.List;

/**
 * One evaluation item: what the model is asked, what counts as right, and where the answer sits.
 *
 * @param system       system message, or null for none
 * @param user         the user message (context and question)
 * @param answerPrefix text the answer starts with, appended after the chat template's generation prompt (L-Eval's
 *                     {@code "\nAnswer:"}); empty for none
 * @param answers      gold answers; the metric takes the best over them
 * @param metric       how a prediction is scored
 * @param depth        where the answer sits as a fraction of the context (0 start, 1 end); NaN when not placed
 * @param position     1-based index of the gold document or record among {@code items}; 0 when not applicable
 * @param items        number of documents, records or filler sentences in the context (0 when not applicable)
 * @param promptTokens the real length of the encoded prompt in model tokens
 */
public record Sample(String system, String user, String answerPrefix, List<String> answers, Metric metric,
                     double depth, int position, int items, int promptTokens) {
    public Sample {
        answers = List.copyOf(answers);
        if (answers.isEmpty()) throw new IllegalArgumentException("a sample needs at least one gold answer");
    }

    /** The prompt as the encoder sees it. */
    public int[] encode(PromptEncoder encoder) {
        return encoder.encode(system, user, answerPrefix);
    }

    /** This sample scored on {@code prediction}, in [0, 1]. */
    public double score(String prediction) {
        return metric.score(prediction, answers);
    }
}
