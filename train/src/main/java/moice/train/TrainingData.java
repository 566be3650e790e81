package moice.train;

import moice.MoiceException;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The training sequences of a data file (layouts: {@link DocumentReader}), tokenised and packed.
 *
 * <p><b>Tokenisation.</b> Plain text goes through {@link Tokenizer#encode(String)} (special tokens such as BOS as the
 * tokenizer's post-processor adds them, like HF {@code tokenizer(text)}); a conversation is rendered by the chat
 * template and encoded without added special tokens (the template writes BOS and turn markers itself, like HF
 * {@code apply_chat_template(tokenize=True)}).
 *
 * <p><b>Loss mask.</b> {@link LossOn#ALL} (the official recipe) counts every token. {@link LossOn#ASSISTANT} counts
 * only the tokens of assistant turns, found by rendering the conversation incrementally: for assistant message
 * {@code i}, the rendering of messages {@code [0, i)} with the generation prompt ends where the reply starts, and the
 * rendering of {@code [0, i]} ends where the turn ends (its end-of-turn marker included, so the model learns to stop).
 * Each prefix is tokenised and its length in tokens is where it agrees with the tokens of the whole conversation
 * (the longest common prefix), so a token that straddles a boundary counts as assistant. A template whose rendering of
 * a prefix is not a prefix of the whole rendering is an error naming the record. Text records have no assistant turns
 * and are an error in this mode.
 *
 * <p><b>Packing.</b> As the official recipe: documents are concatenated in file order (no separator beyond what
 * tokenisation adds) and cut into sequences of {@code maxLen} tokens; the last, shorter one is kept. Sequences with
 * fewer than 2 tokens, or (assistant mode) with no counted token, are dropped and counted.
 */
public final class TrainingData {

    /** Which tokens count in the cross-entropy. */
    public enum LossOn { ALL, ASSISTANT }

    /** What loading found. */
    public record Stats(int documents, int skippedRecords, long tokens, int sequences, int droppedShort,
                        int droppedNoTargets, long targetTokens) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d documents (%d bad records skipped), %d tokens, %d sequences "
                            + "(%d too short and %d without loss tokens dropped), %d tokens in the loss",
                    documents, skippedRecords, tokens, sequences, droppedShort, droppedNoTargets, targetTokens);
        }
    }

    private final List<TokenSequence> sequences;
    private final Stats stats;
    private final String digest;

    private TrainingData(List<TokenSequence> sequences, Stats stats) {
        this.sequences = List.copyOf(sequences);
        this.stats = stats;
        this.digest = digestOf(this.sequences);
    }

    /** Sequences given directly (tests, callers with their own data); their digest is computed as for a file. */
    public static TrainingData of(List<TokenSequence> sequences) {
        long tokens = 0, targets = 0;
        for (TokenSequence s : sequences) {
            tokens += s.tokens().length;
            targets += s.targetCount();
        }
        return new TrainingData(sequences, new Stats(sequences.size(), 0, tokens, sequences.size(), 0, 0, targets));
    }

    /**
     * Reads, tokenises, masks and packs {@code file}.
     *
     * @param template  read only when the file holds a conversation (a text-only corpus needs no chat template)
     * @param maxLen    tokens per packed sequence, at least 2
     * @param skipBad   count bad records instead of failing on the first
     */
    public static TrainingData load(Path file, Tokenizer tokenizer, Supplier<ChatTemplate> template, int maxLen,
                                    LossOn lossOn, boolean skipBad) {
        return load(file, tokenizer, template, maxLen, lossOn, skipBad, Long.MAX_VALUE);
    }

    /**
     * As {@link #load(Path, Tokenizer, Supplier, int, LossOn, boolean)}, reading only the first {@code maxDocuments}
     * good documents (tokenising a whole 2 GB chat collection takes long, and the official recipe uses 7 × 128
     * sequences).
     */
    public static TrainingData load(Path file, Tokenizer tokenizer, Supplier<ChatTemplate> template, int maxLen,
                                    LossOn lossOn, boolean skipBad, long maxDocuments) {
        if (maxLen < 2) throw new IllegalArgumentException("maxLen " + maxLen);
        Packer packer = new Packer(maxLen, lossOn);
        ChatTemplate[] chat = new ChatTemplate[1];
        DocumentReader.Counts counts = DocumentReader.read(file, skipBad, maxDocuments, doc -> {
            switch (doc) {
                case TrainingDocument.Text t -> {
                    if (lossOn == LossOn.ASSISTANT)
                        throw new MoiceException(t.where() + ": a \"text\" record has no assistant turns; "
                                + "--loss-on assistant needs conversations (\"messages\" or \"conversations\")");
                    packer.add(tokenizer.encode(t.text()), null);
                }
                case TrainingDocument.Chat c -> {
                    if (chat[0] == null) chat[0] = template.get();
                    if (lossOn == LossOn.ALL) packer.add(encodeChat(tokenizer, chat[0], c), null);
                    else {
                        EncodedChat e = encodeWithAssistantMask(tokenizer, chat[0], c);
                        packer.add(e.tokens, e.assistant);
                    }
                }
            }
        });
        List<TokenSequence> seqs = packer.finish();
        if (seqs.isEmpty())
            throw new MoiceException(file + ": no training sequence of at least 2 tokens"
                    + (lossOn == LossOn.ASSISTANT ? " with assistant tokens" : ""));
        Stats stats = new Stats(counts.documents(), counts.skipped(), packer.totalTokens, seqs.size(),
                packer.droppedShort, packer.droppedNoTargets, packer.targetTokens);
        return new TrainingData(seqs, stats);
    }

    public List<TokenSequence> sequences() { return sequences; }

    public Stats stats() { return stats; }

    /**
     * SHA-256 (hex) over every sequence's tokens and mask: identifies the exact training input (file, tokenizer,
     * template, max length and loss mode together), so that a resumed run can check it sees the same data.
     */
    public String digest() { return digest; }

    static int[] encodeChat(Tokenizer tokenizer, ChatTemplate template, TrainingDocument.Chat chat) {
        return tokenizer.encode(render(template, chat, chat.messages(), false), false);
    }

    record EncodedChat(int[] tokens, boolean[] assistant) {}

    /** Tokens of the whole conversation, and per token whether it belongs to an assistant turn (see class doc). */
    static EncodedChat encodeWithAssistantMask(Tokenizer tokenizer, ChatTemplate template, TrainingDocument.Chat chat) {
        List<ChatTemplate.Message> messages = chat.messages();
        String full = render(template, chat, messages, false);
        int[] ids = tokenizer.encode(full, false);
        boolean[] assistant = new boolean[ids.length];
        boolean any = false;
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant")) continue;
            any = true;
            // an empty conversation cannot be rendered (transformers refuses it too): a reply that opens it starts at 0
            String before = i == 0 ? "" : render(template, chat, messages.subList(0, i), true);
            String through = render(template, chat, messages.subList(0, i + 1), false);
            if (!full.startsWith(before) || !full.startsWith(through))
                throw new MoiceException(chat.where() + ": the chat template renders the conversation up to message "
                        + i + " differently from the start of the whole conversation, so assistant tokens cannot be "
                        + "located; use --loss-on all");
            int start = commonPrefix(tokenizer.encode(before, false), ids);
            int end = through.length() == full.length() ? ids.length : commonPrefix(tokenizer.encode(through, false), ids);
            for (int t = start; t < end; t++) assistant[t] = true;
        }
        if (!any) throw new MoiceException(chat.where() + ": no assistant turn; --loss-on assistant needs one");
        return new EncodedChat(ids, assistant);
    }

    private static String render(ChatTemplate template, TrainingDocument.Chat chat, List<ChatTemplate.Message> messages,
                                 boolean generationPrompt) {
        try {
            return template.render(messages, generationPrompt);
        } catch (MoiceException e) {
            throw new MoiceException(chat.where() + ": the chat template failed: " + e.getMessage(), e);
        }
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /** Concatenates documents and cuts them into sequences of maxLen tokens. */
    private static final class Packer {
        final int maxLen;
        final LossOn lossOn;
        final List<TokenSequence> out = new ArrayList<>();
        int[] tokens;
        boolean[] mask;
        int filled;
        long totalTokens, targetTokens;
        int droppedShort, droppedNoTargets;

        Packer(int maxLen, LossOn lossOn) {
            this.maxLen = maxLen;
            this.lossOn = lossOn;
            reset();
        }

        private void reset() {
            tokens = new int[maxLen];
            mask = lossOn == LossOn.ALL ? null : new boolean[maxLen];
            filled = 0;
        }

        void add(int[] ids, boolean[] assistant) {
            totalTokens += ids.length;
            for (int i = 0; i < ids.length; ) {
                int n = Math.min(ids.length - i, maxLen - filled);
                System.arraycopy(ids, i, tokens, filled, n);
                if (mask != null) System.arraycopy(assistant, i, mask, filled, n);
                filled += n;
                i += n;
                if (filled == maxLen) emit();
            }
        }

        private void emit() {
            if (filled < 2) {
                if (filled > 0) droppedShort++;
            } else {
                int[] t = filled == maxLen ? tokens : Arrays.copyOf(tokens, filled);
                boolean[] m = mask == null ? null : filled == maxLen ? mask : Arrays.copyOf(mask, filled);
                if (m != null) m[0] = false; // position 0 is never predicted
                TokenSequence s = new TokenSequence(t, m);
                int count = s.targetCount();
                if (count == 0) droppedNoTargets++;
                else {
                    out.add(s);
                    targetTokens += count;
                }
            }
            reset();
        }

        List<TokenSequence> finish() {
            emit();
            return out;
        }
    }

    private static String digestOf(List<TokenSequence> sequences) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(8);
            for (TokenSequence s : sequences) {
                sha.update(buf.clear().putInt(s.tokens().length).putInt(s.targets() == null ? 0 : 1).array());
                ByteBuffer body = ByteBuffer.allocate(s.tokens().length * 4);
                for (int t : s.tokens()) body.putInt(t);
                sha.update(body.array());
                if (s.targets() != null) {
                    byte[] m = new byte[s.targets().length];
                    for (int i = 0; i < m.length; i++) m[i] = (byte) (s.targets()[i] ? 1 : 0);
                    sha.update(m);
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
