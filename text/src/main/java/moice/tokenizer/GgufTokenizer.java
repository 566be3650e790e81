package moice.tokenizer;

import moice.MoiceException;
import moice.io.gguf.GgufTokenizerData;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Builds a {@link Tokenizer} and {@link ChatTemplate} from the {@code tokenizer.*} keys of a GGUF file, the way HF
 * transformers does when it loads a GGUF ({@code integrations/gguf/gguf_tokenizer_mapping.py}): {@code gpt2}
 * vocabularies become byte-level BPE from the file's merges (with the split regex that {@code tokenizer.ggml.pre} names
 * when transformers knows it, else GPT-2's), {@code llama} vocabularies become SentencePiece-style BPE with byte
 * fallback and merges derived from the scores. Tokens typed CONTROL are special added tokens, USER_DEFINED ones plain
 * added tokens; BOS/EOS are added as the file's flags say.
 */
public final class GgufTokenizer {
    private static final int TYPE_CONTROL = 3;
    private static final int TYPE_USER_DEFINED = 4;

    private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** {@code tokenizer.ggml.pre} values transformers maps to a split regex. */
    private static final Map<String, String> SPLITS = Map.ofEntries(
            Map.entry("llama3", LLAMA3_SPLIT), Map.entry("llama-v3", LLAMA3_SPLIT), Map.entry("llama-bpe", LLAMA3_SPLIT),
            Map.entry("falcon3", LLAMA3_SPLIT), Map.entry("dbrx", LLAMA3_SPLIT), Map.entry("smaug-bpe", LLAMA3_SPLIT),
            Map.entry("pixtral", LLAMA3_SPLIT), Map.entry("qwen2", QWEN2_SPLIT),
            Map.entry("deepseek-r1-qwen", QWEN2_SPLIT));

    private GgufTokenizer() {}

    /** The tokenizer the file describes; {@code source} names the file in errors. */
    public static Tokenizer build(GgufTokenizerData data, String source) {
        String where = source + ": tokenizer.ggml";
        String[] tokens = data.tokens();
        boolean byteLevel = data.model().equals("gpt2");
        Map<String, Integer> vocab = new HashMap<>(tokens.length * 2);
        for (int i = 0; i < tokens.length; i++) {
            // transformers respells a byte-level token written outside the byte alphabet (e.g. raw UTF-8) into it
            String key = byteLevel && !ByteLevelAlphabet.isEncoded(tokens[i]) ? ByteLevelAlphabet.encode(tokens[i]) : tokens[i];
            vocab.put(key, i);
        }
        BpeModel model;
        PreTokenizer pre;
        Decoder decoder;
        boolean addBos;
        switch (data.model()) {
            case "gpt2" -> {
                String[] merges = data.merges().orElseThrow(() -> new MoiceException(where + ".merges: missing (a gpt2 tokenizer needs its merges)"));
                List<BpeModel.Merge> rules = splitMerges(merges, where);
                model = new BpeModel(where + ".merges", vocab, rules, BpeModel.Options.BYTE_LEVEL);
                String split = SPLITS.get(data.pre().orElse(""));
                pre = split == null ? new PreTokenizer.ByteLevel(false, true)
                        : new PreTokenizer.Sequence(List.of(
                        new PreTokenizer.Split(OnigRegex.compile(split, where + ".pre"), SplitBehavior.ISOLATED, false),
                        new PreTokenizer.ByteLevel(false, false)));
                decoder = new Decoder.ByteLevel();
                addBos = data.addBosToken().orElse(false);
            }
            case "llama" -> {
                float[] scores = data.scores().orElseThrow(() -> new MoiceException(where + ".scores: missing (a llama tokenizer needs its scores)"));
                List<BpeModel.Merge> rules = data.merges().isPresent() ? splitMerges(data.merges().get(), where)
                        : BpeModel.mergesFromScores(vocab, scores);
                String unk = data.unknownTokenId().isPresent() ? tokens[data.unknownTokenId().getAsInt()] : "<unk>";
                model = new BpeModel(where + ".tokens", vocab, rules, new BpeModel.Options(true, unk, true, false, null, null));
                pre = new PreTokenizer.Metaspace('\u2581', PreTokenizer.PrependScheme.FIRST, false);
                decoder = new Decoder.Sequence(List.of(new Decoder.Replace(Pattern.compile("\u2581", Pattern.LITERAL), " "),
                        new Decoder.ByteFallback(), new Decoder.Fuse(), new Decoder.Strip(' ', 1, 0)));
                addBos = data.addBosToken().orElse(true);
            }
            default -> throw new MoiceException(where + ".model: '" + data.model()
                    + "' is not supported; moice reads gpt2 (byte-level BPE) and llama (SentencePiece BPE) vocabularies");
        }
        List<AddedToken> added = addedTokens(data, tokens, byteLevel);
        boolean addEos = data.addEosToken().orElse(false);
        List<PostProcessor.TemplatePiece> template = new ArrayList<>();
        OptionalInt bos = data.bosTokenId(), eos = data.eosTokenId();
        if (addBos && bos.isPresent()) template.add(PostProcessor.TemplatePiece.special(tokens[bos.getAsInt()], bos.getAsInt()));
        template.add(PostProcessor.TemplatePiece.sequence());
        if (addEos && eos.isPresent()) template.add(PostProcessor.TemplatePiece.special(tokens[eos.getAsInt()], eos.getAsInt()));
        return new Tokenizer(null, pre, model, added, new PostProcessor.Template(template), decoder);
    }

    /** The chat template stored in {@code tokenizer.chat_template}, with the file's BOS/EOS/UNK/PAD strings. */
    public static ChatTemplate chatTemplate(GgufTokenizerData data, String source) {
        String template = data.chatTemplate().orElseThrow(() ->
                new MoiceException(source + ": no tokenizer.chat_template, so no chat template (drop --chat)"));
        String[] t = data.tokens();
        return new ChatTemplate(template, text(t, data.bosTokenId()), text(t, data.eosTokenId()),
                text(t, data.unknownTokenId()), text(t, data.paddingTokenId()));
    }

    private static String text(String[] tokens, OptionalInt id) {
        return id.isPresent() ? tokens[id.getAsInt()] : null;
    }

    private static List<BpeModel.Merge> splitMerges(String[] merges, String where) {
        List<BpeModel.Merge> rules = new ArrayList<>(merges.length);
        for (int i = 0; i < merges.length; i++) {
            int space = merges[i].indexOf(' ');
            if (space <= 0 || space == merges[i].length() - 1)
                throw new MoiceException(where + ".merges[" + i + "]: expected 'LEFT RIGHT', found '" + merges[i] + "'");
            rules.add(new BpeModel.Merge(merges[i].substring(0, space), merges[i].substring(space + 1)));
        }
        return rules;
    }

    /**
     * CONTROL tokens (and the named BOS/EOS/UNK/PAD tokens) as special added tokens, USER_DEFINED ones as plain added
     * tokens. In a byte-level vocabulary a CONTROL token spelled outside the byte alphabet is a converter mislabel and
     * is skipped, as transformers does.
     */
    private static List<AddedToken> addedTokens(GgufTokenizerData data, String[] tokens, boolean byteLevel) {
        int[] types = data.tokenTypes().orElse(new int[0]);
        Set<Integer> special = new LinkedHashSet<>();
        for (int i = 0; i < types.length; i++)
            if (types[i] == TYPE_CONTROL && (!byteLevel || ByteLevelAlphabet.isEncoded(tokens[i]))) special.add(i);
        for (OptionalInt id : List.of(data.bosTokenId(), data.eosTokenId(), data.unknownTokenId(), data.paddingTokenId()))
            if (id.isPresent()) special.add(id.getAsInt());
        List<AddedToken> out = new ArrayList<>();
        for (int id : special) out.add(new AddedToken(tokens[id], id, true, false, false, false, false));
        for (int i = 0; i < types.length; i++)
            if (types[i] == TYPE_USER_DEFINED && !special.contains(i))
                out.add(new AddedToken(tokens[i], i, false, false, false, false, false));
        return out;
    }

}
