package moice.model;

import moice.attention.AttentionVariant;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Autoregressive generation: prefill the prompt as one block (chunked by the model), then decode one token at a time,
 * streaming text as soon as it is complete characters and cannot be the start of a stop string.
 */
public final class Generator {

    /** Turns token ids into text incrementally (a tokenizer's streaming decoder). */
    public interface TextStream {
        /** Text that becomes complete once {@code id} is appended (may be empty). */
        String push(int id);

        /** Whatever is still held back at the end (incomplete characters). */
        default String finish() {
            return "";
        }
    }

    /**
     * @param maxTokens   upper bound on generated tokens
     * @param stopIds     token ids that end generation (not printed)
     * @param stopStrings strings that end generation (output is cut before them)
     * @param context     most positions (prompt + generated); 0 means the model's {@code max_position_embeddings}
     */
    public record Settings(int maxTokens, Set<Integer> stopIds, List<String> stopStrings, int context) {
        public Settings {
            stopIds = Set.copyOf(stopIds);
            stopStrings = List.copyOf(stopStrings);
        }
    }

    /** What a generation produced, with timings for the prefill and decode phases. */
    public record Result(int[] tokens, String text, int promptTokens, long prefillNanos, long decodeNanos,
                         String stopReason) {
        public double prefillTokensPerSecond() {
            return promptTokens / (prefillNanos / 1e9);
        }

        /** Decode speed over the tokens after the first (the first comes from the prefill logits). */
        public double decodeTokensPerSecond() {
            return decodeNanos == 0 ? 0 : Math.max(0, tokens.length - 1) / (decodeNanos / 1e9);
        }
    }

    private Generator() {}

    public static Result generate(Model model, AttentionVariant attention, int[] prompt, Sampler sampler,
                                  Settings settings, TextStream stream, Consumer<String> onText) {
        return generate(model.config(), InferenceSession.factory(model, attention), prompt, sampler, settings, stream,
                onText);
    }

    /** As above, for any method that opens {@link InferenceSession}s (e.g. {@link AttentionBuckets}). */
    public static Result generate(ModelConfig config, InferenceSession.Factory sessions, int[] prompt, Sampler sampler,
                                  Settings settings, TextStream stream, Consumer<String> onText) {
        if (prompt.length == 0) throw new moice.MoiceException("the prompt is empty (no tokens)");
        int context = settings.context() > 0 ? settings.context() : config.maxPositions();
        if (prompt.length >= context)
            throw new moice.MoiceException("the prompt has " + prompt.length + " tokens but the context is " + context
                    + " tokens (max_position_embeddings of the model, or --context)");
        InferenceSession session = sessions.open(Math.min(context, prompt.length + settings.maxTokens()));
        return generate(config, session, 0, prompt, sampler, settings, stream, onText);
    }

    /**
     * As above, in a session that already holds the first {@code reused} tokens of {@code prompt} (a cached prefix,
     * e.g. the earlier turns of a conversation): only {@code prompt[reused..]} is run before sampling. The sequence
     * ends at {@code min(context, prompt.length + maxTokens)} positions, whatever the session's capacity.
     */
    public static Result generate(ModelConfig config, InferenceSession session, int reused, int[] prompt,
                                  Sampler sampler, Settings settings, TextStream stream, Consumer<String> onText) {
        int vocab = config.vocabSize();
        int context = settings.context() > 0 ? settings.context() : config.maxPositions();
        if (reused < 0 || reused >= prompt.length || session.size() != reused)
            throw new IllegalArgumentException("reused prefix " + reused + " of a prompt of " + prompt.length
                    + " tokens, session at " + session.size());
        int limit = Math.min(Math.min(context, prompt.length + settings.maxTokens()), session.capacity());
        // the cache in one allocation: what doubling would hold after the first decode step (twice the prompt, at
        // least 256 positions), but never past the sequence's end; growing block by block instead left each smaller
        // copy as garbage in the old generation (a 2K prompt: ~70 MB more resident memory for SmolLM2)
        session.reserve(Math.min(limit, Math.max(256, 2 * prompt.length)));
        long t0 = System.nanoTime();
        float[] logits = session.forward(reused == 0 ? prompt : java.util.Arrays.copyOfRange(prompt, reused, prompt.length), 1);
        long prefill = System.nanoTime() - t0;
        long t1 = System.nanoTime();
        List<Integer> out = new ArrayList<>();
        StopMatcher stop = new StopMatcher(settings.stopStrings(), onText);
        String reason = "length";
        for (int i = 0; i < settings.maxTokens(); i++) {
            int next = sampler.sample(logits, 0, vocab);
            if (settings.stopIds().contains(next)) {
                reason = "eos";
                break;
            }
            out.add(next);
            if (stop.accept(stream.push(next))) {
                reason = "stop";
                break;
            }
            if (session.size() == limit) {
                if (i + 1 < settings.maxTokens()) reason = "context";
                break;
            }
            if (i + 1 < settings.maxTokens()) logits = session.forward(new int[]{next}, 1);
        }
        if (!reason.equals("stop") && !stop.accept(stream.finish())) stop.flush();
        long decode = System.nanoTime() - t1;
        return new Result(out.stream().mapToInt(Integer::intValue).toArray(), stop.text(), prompt.length, prefill,
                decode, reason);
    }

    /** Holds back text that could still turn into a stop string; emits the rest. */
    static final class StopMatcher {
        private final List<String> stops;
        private final Consumer<String> sink;
        private final StringBuilder all = new StringBuilder();
        private int emitted;
        private int cut = -1;

        StopMatcher(List<String> stops, Consumer<String> sink) {
            this.stops = stops;
            this.sink = sink;
        }

        /** Appends text; returns true when a stop string has appeared. */
        boolean accept(String piece) {
            all.append(piece);
            for (String s : stops) {
                int at = all.indexOf(s, Math.max(0, emitted - s.length()));
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            if (cut >= 0) {
                emit(cut);
                return true;
            }
            int safe = all.length();
            for (String s : stops)
                for (int k = Math.min(s.length() - 1, all.length()); k > 0; k--)
                    if (all.length() - k >= emitted && s.startsWith(all.substring(all.length() - k))) {
                        safe = Math.min(safe, all.length() - k);
                        break;
                    }
            emit(safe);
            return false;
        }

        void flush() {
            emit(all.length());
        }

        private void emit(int upTo) {
            if (upTo > emitted) {
                sink.accept(all.substring(emitted, upTo));
                emitted = upTo;
            }
        }

        String text() {
            return all.substring(0, cut >= 0 ? cut : all.length());
        }
    }
}
