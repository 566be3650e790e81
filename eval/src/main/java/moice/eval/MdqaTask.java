package moice.eval;

import moice.MoiceException;
import moice.io.Json;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Multi-document QA files of "Lost in the Middle" ({@code qa_data/*.jsonl.gz}): each line has {@code question},
 * {@code answers} and {@code ctxs} (documents with {@code title}, {@code text} and {@code isgold} / {@code hasanswer}).
 * The gold position is the document marked {@code isgold} (else the first with {@code hasanswer}); its depth is
 * {@code (position - 1) / (documents - 1)}. The prompt is the paper's QA prompt; scored by best-subspan EM.
 */
public final class MdqaTask implements DataTask {
    record Document(String title, String text, boolean gold, boolean hasAnswer) {}

    record Item(String question, List<String> answers, List<Document> documents, int goldPosition, String where) {}

    private final List<Item> items;

    private MdqaTask(List<Item> items) {
        this.items = items;
    }

    /** Reads and checks every line of {@code file}. */
    public static MdqaTask read(Path file) {
        List<Item> items = new ArrayList<>();
        for (JsonLines.Line line : JsonLines.read(file)) {
            String question = line.string("question");
            List<String> answers = line.strings("answers");
            if (answers.isEmpty()) throw new MoiceException(line.where() + ": field 'answers' is empty");
            List<Object> ctxs = line.array("ctxs");
            if (ctxs.isEmpty()) throw new MoiceException(line.where() + ": field 'ctxs' is empty");
            List<Document> docs = new ArrayList<>();
            for (int i = 0; i < ctxs.size(); i++) {
                String what = line.where() + ": field 'ctxs[" + i + "]";
                Map<String, Object> c = Json.object(ctxs.get(i), what + "'");
                docs.add(new Document(Json.string(c.get("title") == null ? "" : c.get("title"), what + ".title'"),
                        Json.string(c.get("text"), what + ".text'"), flag(c, "isgold", what),
                        flag(c, "hasanswer", what)));
            }
            int gold = 0;
            for (int i = 0; i < docs.size() && gold == 0; i++) if (docs.get(i).gold()) gold = i + 1;
            for (int i = 0; i < docs.size() && gold == 0; i++) if (docs.get(i).hasAnswer()) gold = i + 1;
            items.add(new Item(question, answers, docs, gold, line.where()));
        }
        return new MdqaTask(items);
    }

    private static boolean flag(Map<String, Object> c, String key, String what) {
        Object v = c.get(key);
        return v != null && Json.bool(v, what + "." + key + "'");
    }

    /** The paper's QA prompt. */
    static String prompt(Item item) {
        StringBuilder sb = new StringBuilder(SyntheticQaTask.INSTRUCTION).append("\n\n");
        for (int i = 0; i < item.documents().size(); i++) {
            Document d = item.documents().get(i);
            if (i > 0) sb.append('\n');
            sb.append("Document [").append(i + 1).append("](Title: ").append(d.title()).append(") ").append(d.text());
        }
        return sb.append("\n\nQuestion: ").append(item.question()).append("\nAnswer:").toString();
    }

    @Override
    public String name() { return "mdqa"; }

    @Override
    public int size() { return items.size(); }

    @Override
    public Sample sample(int index, int length, PromptEncoder encoder) {
        Item item = items.get(index);
        String text = prompt(item);
        int tokens = encoder.encode(null, text, "").length;
        if (tokens > length)
            throw new MoiceException(item.where() + ": the prompt has " + tokens + " tokens, more than --lengths "
                    + length + " (documents are never cut in this task)");
        int k = item.documents().size();
        double depth = item.goldPosition() == 0 ? Double.NaN
                : k == 1 ? 0 : (item.goldPosition() - 1) / (double) (k - 1);
        return new Sample(null, text, "", item.answers(), Metric.BEST_SUBSPAN_EM, depth, item.goldPosition(), k, tokens);
    }
}
