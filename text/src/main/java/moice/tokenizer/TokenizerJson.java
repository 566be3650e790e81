package moice.tokenizer;

import moice.MoiceException;
import moice.io.Json;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * Reads HF {@code tokenizer.json} into a {@link Tokenizer}. Every error names the file and the JSON path of the field,
 * e.g. {@code tokenizer.json: pre_tokenizer.pretokenizers[0].type: "UnicodeScripts" is not supported}.
 */
final class TokenizerJson {
    private final String file;

    private TokenizerJson(String file) {
        this.file = file;
    }

    static Tokenizer read(Path path) {
        Object root = Json.parseFile(path);
        return new TokenizerJson(path.toString()).tokenizer(root);
    }

    /** Parses an in-memory document; {@code name} stands for the file in messages. */
    static Tokenizer parse(String json, String name) {
        return new TokenizerJson(name).tokenizer(Json.parse(json, name));
    }

    /** Reads one pre-tokenizer object (the value of {@code pre_tokenizer}); {@code name} stands for the file. */
    static PreTokenizer readPreTokenizer(Object json, String name) {
        return new TokenizerJson(name).preTokenizer(json, "pre_tokenizer");
    }

    /** Reads one normalizer object (the value of {@code normalizer}); {@code name} stands for the file. */
    static Normalizer readNormalizer(Object json, String name) {
        return new TokenizerJson(name).normalizer(json, "normalizer");
    }

    private Tokenizer tokenizer(Object rootValue) {
        Map<String, Object> root = object(rootValue, "");
        Normalizer normalizer = root.get("normalizer") == null ? null : normalizer(root.get("normalizer"), "normalizer");
        PreTokenizer preTokenizer = root.get("pre_tokenizer") == null ? null
                : preTokenizer(root.get("pre_tokenizer"), "pre_tokenizer");
        if (!root.containsKey("model")) throw error("model", "is missing");
        BpeModel model = model(root.get("model"), "model");
        List<AddedToken> added = addedTokens(root.get("added_tokens"), model);
        PostProcessor post = root.get("post_processor") == null ? null
                : postProcessor(root.get("post_processor"), "post_processor");
        Decoder decoder = root.get("decoder") == null ? null : decoder(root.get("decoder"), "decoder");
        return new Tokenizer(normalizer, preTokenizer, model, added, post, decoder);
    }

    // ---------------------------------------------------------------- model

    private BpeModel model(Object value, String path) {
        Map<String, Object> m = object(value, path);
        String type = m.containsKey("type") ? string(m.get("type"), path + ".type") : "BPE";
        if (!type.equals("BPE")) {
            throw error(path + ".type", "\"" + type + "\" is not supported (moice implements BPE tokenizers only)");
        }
        if (m.get("dropout") != null && number(m.get("dropout"), path + ".dropout") != 0.0) {
            throw error(path + ".dropout", "BPE dropout is random; moice supports only null or 0");
        }
        if (!m.containsKey("vocab")) throw error(path + ".vocab", "is missing");
        if (!m.containsKey("merges")) throw error(path + ".merges", "is missing");
        Map<String, Object> vocabJson = object(m.get("vocab"), path + ".vocab");
        Map<String, Integer> vocab = new LinkedHashMap<>(vocabJson.size() * 2);
        long maxId = 16L * (vocabJson.size() + 1024); // a bigger id is a broken file, not a vocabulary to allocate
        for (Map.Entry<String, Object> e : vocabJson.entrySet()) {
            if (!(e.getValue() instanceof Long id) || id < 0 || id > maxId) {
                String where = path + ".vocab[\"" + e.getKey() + "\"]";
                long id = integer(e.getValue(), where);
                throw error(where, "id " + id + (id < 0 ? " is negative" : " is out of range for a vocab of "
                        + vocabJson.size() + " entries"));
            }
            vocab.put(e.getKey(), (int) (long) id);
        }
        List<Object> mergesJson = array(m.get("merges"), path + ".merges");
        List<BpeModel.Merge> merges = new ArrayList<>(mergesJson.size());
        for (int i = 0; i < mergesJson.size(); i++) {
            Object item = mergesJson.get(i);
            if (item instanceof String s) {
                int space = s.indexOf(' ');
                if (space < 0 || s.indexOf(' ', space + 1) >= 0) {
                    throw error(path + ".merges[" + i + "]", "expected two tokens separated by one space, found \""
                            + s + "\"");
                }
                merges.add(new BpeModel.Merge(s.substring(0, space), s.substring(space + 1)));
            } else if (item instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String left
                    && pair.get(1) instanceof String right) {
                merges.add(new BpeModel.Merge(left, right));
            } else {
                throw error(path + ".merges[" + i + "]", "expected \"left right\" or [left, right], found "
                        + Json.write(item));
            }
        }
        BpeModel.Options options = new BpeModel.Options(
                optBool(m, "byte_fallback", false, path),
                optString(m, "unk_token", path),
                optBool(m, "fuse_unk", false, path),
                optBool(m, "ignore_merges", false, path),
                optString(m, "continuing_subword_prefix", path),
                optString(m, "end_of_word_suffix", path));
        return new BpeModel(file + ": " + path, vocab, merges, options);
    }

    /** Added tokens with the ids HF assigns: the vocab's id if the content is in it, else the next free id. */
    private List<AddedToken> addedTokens(Object value, BpeModel model) {
        List<AddedToken> out = new ArrayList<>();
        if (value == null) return out;
        List<Object> list = array(value, "added_tokens");
        Map<String, Integer> assigned = new HashMap<>();
        int nextId = model.vocabEntries();
        for (int i = 0; i < list.size(); i++) {
            String path = "added_tokens[" + i + "]";
            Map<String, Object> t = object(list.get(i), path);
            if (!t.containsKey("content")) throw error(path + ".content", "is missing");
            String content = string(t.get("content"), path + ".content");
            if (t.containsKey("id")) integer(t.get("id"), path + ".id");
            if (content.isEmpty()) continue;
            Integer id = assigned.get(content);
            if (id == null) {
                OptionalInt inVocab = model.tokenId(content);
                id = inVocab.isPresent() ? inVocab.getAsInt() : nextId++;
                assigned.put(content, id);
            }
            out.add(new AddedToken(content, id,
                    optBool(t, "special", false, path),
                    optBool(t, "single_word", false, path),
                    optBool(t, "lstrip", false, path),
                    optBool(t, "rstrip", false, path),
                    optBool(t, "normalized", !optBool(t, "special", false, path), path)));
        }
        return out;
    }

    // ---------------------------------------------------------------- normalizer

    private Normalizer normalizer(Object value, String path) {
        Map<String, Object> m = object(value, path);
        String type = type(m, path);
        return switch (type) {
            case "Sequence" -> {
                List<Object> steps = array(required(m, "normalizers", path), path + ".normalizers");
                List<Normalizer> list = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) {
                    list.add(normalizer(steps.get(i), path + ".normalizers[" + i + "]"));
                }
                yield new Normalizer.Sequence(list);
            }
            case "NFC" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFKD);
            case "Lowercase" -> new Normalizer.Lowercase();
            case "Prepend" -> new Normalizer.Prepend(string(required(m, "prepend", path), path + ".prepend"));
            case "Replace" -> new Normalizer.Replace(pattern(required(m, "pattern", path), path + ".pattern"),
                    string(required(m, "content", path), path + ".content"));
            case "Strip" -> new Normalizer.Strip(optBool(m, "strip_left", true, path),
                    optBool(m, "strip_right", true, path));
            case "StripAccents" -> new Normalizer.StripAccents();
            case "ByteLevel" -> new Normalizer.ByteLevel();
            default -> throw unsupported(path + ".type", type, "normalizer");
        };
    }

    // ---------------------------------------------------------------- pre-tokenizer

    private PreTokenizer preTokenizer(Object value, String path) {
        Map<String, Object> m = object(value, path);
        String type = type(m, path);
        return switch (type) {
            case "Sequence" -> {
                List<Object> steps = array(required(m, "pretokenizers", path), path + ".pretokenizers");
                List<PreTokenizer> list = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) {
                    list.add(preTokenizer(steps.get(i), path + ".pretokenizers[" + i + "]"));
                }
                yield new PreTokenizer.Sequence(list);
            }
            case "Split" -> new PreTokenizer.Split(pattern(required(m, "pattern", path), path + ".pattern"),
                    behavior(required(m, "behavior", path), path + ".behavior"),
                    bool(required(m, "invert", path), path + ".invert"));
            case "ByteLevel" -> new PreTokenizer.ByteLevel(optBool(m, "add_prefix_space", true, path),
                    optBool(m, "use_regex", true, path));
            case "Digits" -> new PreTokenizer.Digits(optBool(m, "individual_digits", false, path));
            case "Metaspace" -> new PreTokenizer.Metaspace(replacement(m, path), prependScheme(m, path),
                    optBool(m, "split", true, path));
            case "Whitespace" -> new PreTokenizer.Whitespace();
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            case "Punctuation" -> new PreTokenizer.Punctuation(m.get("behavior") == null ? SplitBehavior.ISOLATED
                    : behavior(m.get("behavior"), path + ".behavior"));
            case "BertPreTokenizer" -> new PreTokenizer.Bert();
            case "CharDelimiterSplit" -> new PreTokenizer.CharDelimiterSplit(
                    singleChar(required(m, "delimiter", path), path + ".delimiter"));
            default -> throw unsupported(path + ".type", type, "pre-tokenizer");
        };
    }

    private SplitBehavior behavior(Object value, String path) {
        String s = string(value, path);
        return switch (s) {
            case "Removed" -> SplitBehavior.REMOVED;
            case "Isolated" -> SplitBehavior.ISOLATED;
            case "MergedWithPrevious" -> SplitBehavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> SplitBehavior.MERGED_WITH_NEXT;
            case "Contiguous" -> SplitBehavior.CONTIGUOUS;
            default -> throw error(path, "\"" + s + "\" is not one of Removed, Isolated, MergedWithPrevious, "
                    + "MergedWithNext, Contiguous");
        };
    }

    private int replacement(Map<String, Object> m, String path) {
        return singleChar(required(m, "replacement", path), path + ".replacement");
    }

    /** prepend_scheme (default always); the legacy add_prefix_space=false means never. */
    private PreTokenizer.PrependScheme prependScheme(Map<String, Object> m, String path) {
        if (m.get("add_prefix_space") != null && !bool(m.get("add_prefix_space"), path + ".add_prefix_space")) {
            return PreTokenizer.PrependScheme.NEVER;
        }
        if (m.get("prepend_scheme") == null) return PreTokenizer.PrependScheme.ALWAYS;
        String s = string(m.get("prepend_scheme"), path + ".prepend_scheme");
        return switch (s) {
            case "always" -> PreTokenizer.PrependScheme.ALWAYS;
            case "first" -> PreTokenizer.PrependScheme.FIRST;
            case "never" -> PreTokenizer.PrependScheme.NEVER;
            default -> throw error(path + ".prepend_scheme", "\"" + s + "\" is not one of always, first, never");
        };
    }

    // ---------------------------------------------------------------- post-processor

    private PostProcessor postProcessor(Object value, String path) {
        Map<String, Object> m = object(value, path);
        String type = type(m, path);
        return switch (type) {
            case "TemplateProcessing" -> template(m, path);
            case "ByteLevel" -> new PostProcessor.ByteLevel();
            case "Sequence" -> {
                List<Object> steps = array(required(m, "processors", path), path + ".processors");
                List<PostProcessor> list = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) {
                    list.add(postProcessor(steps.get(i), path + ".processors[" + i + "]"));
                }
                yield new PostProcessor.Sequence(list);
            }
            case "RobertaProcessing", "BertProcessing" -> {
                List<Object> cls = array(required(m, "cls", path), path + ".cls");
                List<Object> sep = array(required(m, "sep", path), path + ".sep");
                if (cls.size() != 2) throw error(path + ".cls", "expected [token, id]");
                if (sep.size() != 2) throw error(path + ".sep", "expected [token, id]");
                yield new PostProcessor.ClsSep(string(cls.get(0), path + ".cls[0]"),
                        intId(cls.get(1), path + ".cls[1]"), string(sep.get(0), path + ".sep[0]"),
                        intId(sep.get(1), path + ".sep[1]"));
            }
            default -> throw unsupported(path + ".type", type, "post-processor");
        };
    }

    private PostProcessor template(Map<String, Object> m, String path) {
        Map<String, Object> specials = m.get("special_tokens") == null ? Map.of()
                : object(m.get("special_tokens"), path + ".special_tokens");
        List<Object> single = array(required(m, "single", path), path + ".single");
        List<PostProcessor.TemplatePiece> pieces = new ArrayList<>();
        for (int i = 0; i < single.size(); i++) {
            String where = path + ".single[" + i + "]";
            Map<String, Object> piece = object(single.get(i), where);
            if (piece.containsKey("Sequence")) {
                Map<String, Object> seq = object(piece.get("Sequence"), where + ".Sequence");
                String id = string(required(seq, "id", where + ".Sequence"), where + ".Sequence.id");
                if (!id.equals("A")) {
                    throw error(where + ".Sequence.id", "a single-sequence template can only use $A, found $" + id);
                }
                pieces.add(PostProcessor.TemplatePiece.sequence());
            } else if (piece.containsKey("SpecialToken")) {
                Map<String, Object> sp = object(piece.get("SpecialToken"), where + ".SpecialToken");
                String name = string(required(sp, "id", where + ".SpecialToken"), where + ".SpecialToken.id");
                if (!specials.containsKey(name)) {
                    throw error(path + ".special_tokens", "has no entry for \"" + name + "\" used in " + where);
                }
                String sWhere = path + ".special_tokens[\"" + name + "\"]";
                List<Object> idsJson = array(required(object(specials.get(name), sWhere), "ids", sWhere),
                        sWhere + ".ids");
                int[] ids = new int[idsJson.size()];
                for (int k = 0; k < ids.length; k++) ids[k] = intId(idsJson.get(k), sWhere + ".ids[" + k + "]");
                pieces.add(PostProcessor.TemplatePiece.special(name, ids));
            } else {
                throw error(where, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }
        }
        return new PostProcessor.Template(pieces);
    }

    // ---------------------------------------------------------------- decoder

    private Decoder decoder(Object value, String path) {
        Map<String, Object> m = object(value, path);
        String type = type(m, path);
        return switch (type) {
            case "Sequence" -> {
                List<Object> steps = array(required(m, "decoders", path), path + ".decoders");
                List<Decoder> list = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) list.add(decoder(steps.get(i), path + ".decoders[" + i + "]"));
                yield new Decoder.Sequence(list);
            }
            case "ByteLevel" -> new Decoder.ByteLevel();
            case "ByteFallback" -> new Decoder.ByteFallback();
            case "Fuse" -> new Decoder.Fuse();
            case "Replace" -> new Decoder.Replace(pattern(required(m, "pattern", path), path + ".pattern"),
                    string(required(m, "content", path), path + ".content"));
            case "Strip" -> new Decoder.Strip(singleChar(required(m, "content", path), path + ".content"),
                    count(required(m, "start", path), path + ".start"), count(required(m, "stop", path), path + ".stop"));
            case "Metaspace" -> new Decoder.Metaspace(replacement(m, path),
                    prependScheme(m, path) != PreTokenizer.PrependScheme.NEVER);
            case "BPEDecoder" -> new Decoder.WordSuffix(m.get("suffix") == null ? "</w>"
                    : string(m.get("suffix"), path + ".suffix"));
            default -> throw unsupported(path + ".type", type, "decoder");
        };
    }

    // ---------------------------------------------------------------- helpers

    /** {"String": literal} or {"Regex": oniguruma pattern}. */
    private Pattern pattern(Object value, String path) {
        Map<String, Object> m = object(value, path);
        if (m.containsKey("String")) return OnigRegex.literal(string(m.get("String"), path + ".String"));
        if (m.containsKey("Regex")) {
            return OnigRegex.compile(string(m.get("Regex"), path + ".Regex"), file + ": " + path + ".Regex");
        }
        throw error(path, "expected {\"String\": ...} or {\"Regex\": ...}");
    }

    private String type(Map<String, Object> m, String path) {
        return string(required(m, "type", path), path + ".type");
    }

    private Object required(Map<String, Object> m, String key, String path) {
        Object v = m.get(key);
        if (v == null) throw error(path.isEmpty() ? key : path + "." + key, "is missing");
        return v;
    }

    private boolean optBool(Map<String, Object> m, String key, boolean dflt, String path) {
        Object v = m.get(key);
        return v == null ? dflt : bool(v, path + "." + key);
    }

    private String optString(Map<String, Object> m, String key, String path) {
        Object v = m.get(key);
        return v == null ? null : string(v, path + "." + key);
    }

    private int singleChar(Object value, String path) {
        String s = string(value, path);
        if (s.isEmpty() || s.codePointCount(0, s.length()) != 1) {
            throw error(path, "expected exactly one character, found \"" + s + "\"");
        }
        return s.codePointAt(0);
    }

    private int intId(Object value, String path) {
        long v = integer(value, path);
        if (v < 0 || v > Integer.MAX_VALUE) throw error(path, "id " + v + " is out of range");
        return (int) v;
    }

    private int count(Object value, String path) {
        long v = integer(value, path);
        if (v < 0 || v > 1_000_000) throw error(path, "expected a small non-negative count, found " + v);
        return (int) v;
    }

    private Map<String, Object> object(Object v, String path) {
        if (v instanceof Map) return Json.object(v, "");
        throw error(path.isEmpty() ? "(root)" : path, "expected a JSON object, found " + Json.typeName(v));
    }

    private List<Object> array(Object v, String path) {
        if (v instanceof List) return Json.array(v, "");
        throw error(path, "expected a JSON array, found " + Json.typeName(v));
    }

    private String string(Object v, String path) {
        if (v instanceof String s) return s;
        throw error(path, "expected a string, found " + Json.typeName(v));
    }

    private boolean bool(Object v, String path) {
        if (v instanceof Boolean b) return b;
        throw error(path, "expected true or false, found " + Json.typeName(v));
    }

    private double number(Object v, String path) {
        if (v instanceof Number n) return n.doubleValue();
        throw error(path, "expected a number, found " + Json.typeName(v));
    }

    private long integer(Object v, String path) {
        if (v instanceof Long l) return l;
        throw error(path, "expected an integer, found " + Json.typeName(v) + (v instanceof Number ? " " + v : ""));
    }

    private MoiceException unsupported(String path, String type, String what) {
        return error(path, "\"" + type + "\" is not a " + what + " moice supports");
    }

    private MoiceException error(String path, String what) {
        return new MoiceException(file + ": " + path + ": " + what);
    }
}
