package moice.eval;

import moice.MoiceException;
import moice.model.InferenceSession;

import java.util.ArrayList;
import java.util.List;

/**
 * Teacher-forced log-likelihood scoring ({@code eval --score loglik}): no decoding. The prompt is fed as one block and
 * the answer's tokens as a second block, as generation feeds them (so Ms-PoE fixes its head ratios on the prompt, as
 * when it generates); the log-likelihood is Σ log softmax(logits)[answer token] over the answer's tokens, in double
 * precision from the float logits of the method's own {@link InferenceSession}.
 */
public final class Scoring {
    /** The two ways an eval scores a sample. */
    public static final List<String> NAMES = List.of("generate", "loglik");
    public static final String GENERATE = "generate", LOGLIK = "loglik";

    private Scoring() {}

    /**
     * An answer's teacher-forced score.
     *
     * @param loglik natural-log likelihood of the answer's tokens given the prompt
     * @param argmax the most likely token at each answer position (given the gold tokens before it)
     * @param greedy whether every answer token is that argmax: greedy decoding would have produced the answer
     */
    public record Answer(double loglik, int tokens, int[] argmax, boolean greedy) {
        public double perToken() {
            return loglik / tokens;
        }
    }

    /** The log-likelihood of {@code answer} after {@code prompt} under the sessions of one method. */
    public static Answer score(InferenceSession.Factory sessions, int vocab, int[] prompt, int[] answer) {
        return scoreAll(sessions, vocab, prompt, List.of(answer)).getFirst();
    }

    /**
     * The log-likelihood of each of {@code answers} (candidates of one prompt). Single-token candidates share one
     * prefill of the prompt; every longer candidate costs a prefill of its own (sessions cannot rewind).
     */
    public static List<Answer> scoreAll(InferenceSession.Factory sessions, int vocab, int[] prompt, List<int[]> answers) {
        if (prompt.length == 0) throw new MoiceException("the prompt is empty (no tokens)");
        List<Answer> out = new ArrayList<>();
        float[] promptLogits = null;
        for (int[] answer : answers) {
            if (answer.length == 0) throw new MoiceException("the gold answer has no tokens");
            if (answer.length == 1) {
                if (promptLogits == null) promptLogits = sessions.open(prompt.length).forward(prompt, 1);
                out.add(of(new float[][]{promptLogits}, new int[]{0}, vocab, answer));
                continue;
            }
            InferenceSession session = sessions.open(prompt.length + answer.length);
            float[] first = session.forward(prompt, 1);
            // the answer block's logits: row j (answer token j) predicts answer token j + 1; the last row is unused
            float[] rest = session.forward(answer, answer.length);
            float[][] blocks = new float[answer.length][];
            int[] rows = new int[answer.length];
            blocks[0] = first;
            for (int j = 1; j < answer.length; j++) {
                blocks[j] = rest;
                rows[j] = j - 1;
            }
            out.add(of(blocks, rows, vocab, answer));
        }
        return out;
    }

    /** Answer token j scored on row {@code rows[j]} of {@code blocks[j]}. */
    private static Answer of(float[][] blocks, int[] rows, int vocab, int[] answer) {
        double sum = 0;
        int[] argmax = new int[answer.length];
        boolean greedy = true;
        for (int j = 0; j < answer.length; j++) {
            sum += logSoftmax(blocks[j], rows[j] * vocab, vocab, answer[j]);
            argmax[j] = argmax(blocks[j], rows[j] * vocab, vocab);
            greedy &= argmax[j] == answer[j];
        }
        return new Answer(sum, answer.length, argmax, greedy);
    }

    /** log softmax(logits[offset, offset + vocab))[token], in double precision. */
    public static double logSoftmax(float[] logits, int offset, int vocab, int token) {
        if (token < 0 || token >= vocab) throw new MoiceException("token id " + token + " outside the vocabulary");
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]);
        double sum = 0;
        for (int v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v] - max);
        return logits[offset + token] - max - Math.log(sum);
    }

    /** Index of the largest logit: the greedy sampler's choice (the first on ties). */
    public static int argmax(float[] logits, int offset, int vocab) {
        return moice.model.Sampler.argmax(logits, offset, vocab);
    }
}
