package moice.tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A BPE tokenizer that gives exactly the ids of Hugging Face {@code tokenizers} for the same {@code tokenizer.json}.
 *
 * <p>Encoding follows HF's pipeline: (1) the input is split on added tokens that match verbatim; (2) each remaining
 * stretch is normalized, then split on added tokens that match normalized text; (3) each remaining stretch is cut into
 * pre-tokens; (4) each pre-token is encoded by the {@link BpeModel}; (5) the post-processor adds special tokens (BOS,
 * EOS...) when asked. Added tokens map straight to their ids and are never normalized or merged. Truncation and
 * padding settings in {@code tokenizer.json} are ignored: moice always encodes the whole text.
 *
 * <p>Byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM) and SentencePiece-style BPE with byte fallback (Llama 2, Mistral)
 * are both expressed by the choice of {@link Normalizer}, {@link PreTokenizer} and {@link Decoder}; a GGUF vocabulary
 * builds the same object through the public constructor.
 *
 * <p>Instances are immutable (apart from an internal word cache) and thread-safe.
 */
public final class Tokenizer {
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final BpeModel model;
    private final PostProcessor postProcessor;
    private final Decoder decoder;
    private final List<AddedToken> addedTokens;
    private final AddedVocabulary addedVocabulary;
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final Map<String, Integer> addedByContent = new HashMap<>();
    /** What decode shows for an added token: its normalized form when it matches normalized text, as in HF. */
    private final Map<Integer, String> addedDecodeText = new HashMap<>();
    private final Set<String> specialContents = new HashSet<>();
    private final int vocabSize;

    /**
     * Assembles a tokenizer from its parts; null means the step is absent (as a null in {@code tokenizer.json}).
     *
     * @param addedTokens added tokens in the order HF would add them; for a repeated id or content the last wins
     */
    public Tokenizer(Normalizer normalizer, PreTokenizer preTokenizer, BpeModel model, List<AddedToken> addedTokens,
                     PostProcessor postProcessor, Decoder decoder) {
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        this.addedTokens = List.copyOf(addedTokens);
        int limit = model.idLimit();
        for (AddedToken t : this.addedTokens) {
            if (t.id() < 0 || t.content().isEmpty()) {
                throw new IllegalArgumentException("added token needs a non-negative id and content: " + t);
            }
            addedById.put(t.id(), t);
            addedByContent.put(t.content(), t.id());
            if (t.special()) specialContents.add(t.content());
            limit = Math.max(limit, t.id() + 1);
        }
        for (AddedToken t : addedById.values()) {
            String shown = t.content();
            if (t.normalized() && normalizer != null) shown = normalizer.normalize(t.content());
            addedDecodeText.put(t.id(), shown);
        }
        this.addedVocabulary = new AddedVocabulary(new ArrayList<>(addedById.values()), addedDecodeText);
        this.vocabSize = limit;
    }

    /**
     * Reads a Hugging Face {@code tokenizer.json} (model type BPE).
     *
     * @throws moice.MoiceException if the file cannot be read, is malformed, or uses a model type, normalizer,
     *                              pre-tokenizer, post-processor or decoder that moice does not implement (the message
     *                              names the file and the field)
     */
    public static Tokenizer load(Path tokenizerJson) {
        return TokenizerJson.read(tokenizerJson);
    }

    /** The ids HF {@code tokenizer.encode(text)} gives: special tokens added as the post-processor says. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * The ids of {@code text}; with {@code addSpecialTokens == false} the post-processor adds nothing (HF's
     * {@code add_special_tokens=False}). Added tokens written in the text (e.g. {@code <|im_start|>}) are always
     * recognized.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        IntList ids = new IntList(text.length() / 3 + 8);
        List<PreToken> pieces = new ArrayList<>();
        for (AddedVocabulary.Segment raw : addedVocabulary.splitRaw(text)) {
            if (raw.id() >= 0) {
                ids.add(raw.id());
                continue;
            }
            String normalized = normalizer == null ? raw.text() : normalizer.normalize(raw.text());
            for (AddedVocabulary.Segment part : addedVocabulary.splitNormalized(normalized)) {
                if (part.id() >= 0) {
                    ids.add(part.id());
                    continue;
                }
                PreToken piece = new PreToken(part.text(), raw.start() == 0 && part.start() == 0);
                if (preTokenizer == null) {
                    model.tokenize(piece.text(), ids);
                    continue;
                }
                pieces.clear();
                preTokenizer.split(piece, pieces);
                for (PreToken p : pieces) model.tokenize(p.text(), ids);
            }
        }
        int[] result = ids.toArray();
        return postProcessor == null ? result : postProcessor.process(result, addSpecialTokens);
    }

    /**
     * The text of {@code ids} as HF {@code tokenizer.decode(ids, skip_special_tokens)} gives it. Ids that are not in
     * the vocabulary are skipped; with {@code skipSpecialTokens} so are special tokens. Bytes that do not form valid
     * UTF-8 become U+FFFD.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens);
    }

    String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            String t = tokenText(ids[i]);
            if (t == null || (skipSpecialTokens && specialContents.contains(t))) continue;
            tokens.add(t);
        }
        return decoder == null ? String.join(" ", tokens) : decoder.decode(tokens);
    }

    /** A decoder for streaming generation; see {@link StreamDecoder}. */
    public StreamDecoder newStreamDecoder(boolean skipSpecialTokens) {
        return new StreamDecoder(this, skipSpecialTokens);
    }

    /** One past the largest id of the vocabulary and the added tokens: the size an embedding table needs. */
    public int vocabSize() {
        return vocabSize;
    }

    /**
     * The vocabulary string of {@code id} (byte-level or "▁" form, as HF's {@code id_to_token}; for an added token
     * that matches normalized text, its normalized form), or null if no token has this id.
     */
    public String tokenText(int id) {
        String added = addedDecodeText.get(id);
        return added != null ? added : model.tokenText(id);
    }

    /** The id of a vocabulary string or added token content (added tokens first, as HF's {@code token_to_id}). */
    public OptionalInt tokenId(String token) {
        Integer added = addedByContent.get(token);
        return added != null ? OptionalInt.of(added) : model.tokenId(token);
    }

    /** Whether {@code id} is an added token marked special (skipped by {@code decode(ids, true)}). */
    public boolean isSpecial(int id) {
        AddedToken t = addedById.get(id);
        return t != null && t.special();
    }

    /** The token the post-processor puts in front of every sequence (e.g. {@code <s>}), if any. */
    public Optional<String> bosToken() {
        return postProcessor == null ? Optional.empty() : postProcessor.leadingToken();
    }

    /**
     * An end-of-sequence token: the one the post-processor appends, else the first of {@code </s>},
     * {@code <|end_of_text|>}, {@code <|endoftext|>} that is a special added token. Chat models often stop on a
     * different end-of-turn token, named in {@code tokenizer_config.json} / {@code generation_config.json}.
     */
    public Optional<String> eosToken() {
        Optional<String> trailing = postProcessor == null ? Optional.empty() : postProcessor.trailingToken();
        if (trailing.isPresent()) return trailing;
        for (String candidate : List.of("</s>", "<|end_of_text|>", "<|endoftext|>")) {
            if (specialContents.contains(candidate)) return Optional.of(candidate);
        }
        return Optional.empty();
    }

    public List<AddedToken> addedTokens() {
        return addedTokens;
    }

    public BpeModel model() {
        return model;
    }
}
