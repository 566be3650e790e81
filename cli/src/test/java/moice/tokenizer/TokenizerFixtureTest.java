package moice.tokenizer;

import moice.io.Json;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compares encode/decode with what HF tokenizers (version recorded in the fixtures) gives for the tokenizers written
 * by scripts/reference/make_tokenizers.py: a hand-picked probe set and ~3000 seeded random strings per tokenizer.
 */
class TokenizerFixtureTest {
    static final String[] FIXTURES = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2",
            "spm_metaspace", "misc_bpe"};

    static Path dir(String name) {
        return Path.of("src/test/resources/tokenizers", name);
    }

    static Tokenizer load(String name) {
        return Tokenizer.load(dir(name).resolve("tokenizer.json"));
    }

    static Object readJson(Path file) {
        try (InputStream in = file.toString().endsWith(".gz")
                ? new GZIPInputStream(java.nio.file.Files.newInputStream(file))
                : java.nio.file.Files.newInputStream(file)) {
            return Json.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), file.toString());
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static int[] ints(Object list) {
        List<Object> l = Json.array(list, "ids");
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = (int) Json.integer(l.get(i), "id");
        return out;
    }

    static List<String> randomStrings() {
        Map<String, Object> m = Json.object(readJson(Path.of("src/test/resources/tokenizers/random_strings.json.gz")),
                "random");
        List<String> out = new ArrayList<>();
        for (Object o : Json.array(m.get("strings"), "strings")) out.add((String) o);
        return out;
    }

    /** Collects mismatches so that one run reports how many cases fail, with a few examples. */
    static final class Mismatches {
        final List<String> examples = new ArrayList<>();
        int count;

        void check(boolean ok, String what) {
            if (ok) return;
            count++;
            if (examples.size() < 8) examples.add(what);
        }

        void assertNone(String label) {
            assertEquals(0, count, label + ": " + count + " mismatches, e.g.\n" + String.join("\n", examples));
        }
    }

    static String show(String s) {
        StringBuilder sb = new StringBuilder();
        Json.quote(s.length() > 300 ? s.substring(0, 300) + "..." : s, sb);
        return sb.toString();
    }

    static String show(int[] ids) {
        String s = java.util.Arrays.toString(ids);
        return s.length() > 400 ? s.substring(0, 400) + "..." : s;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2", "spm_metaspace",
            "misc_bpe"})
    void probesMatchHf(String name) {
        Tokenizer tok = load(name);
        Map<String, Object> expected = Json.object(readJson(dir(name).resolve("expected.json")), "expected");
        assertEquals(Json.integer(expected.get("vocab_size_with_added"), "vocab"), tok.vocabSize(), "vocab size");
        Mismatches bad = new Mismatches();
        for (Object o : Json.array(expected.get("probes"), "probes")) {
            Map<String, Object> probe = Json.object(o, "probe");
            String text = (String) probe.get("text");
            int[] ids = ints(probe.get("ids"));
            int[] got = tok.encode(text);
            bad.check(java.util.Arrays.equals(ids, got), "encode " + show(text) + "\n  hf   " + show(ids)
                    + "\n  java " + show(got));
            int[] noSpecial = ints(probe.get("ids_no_special"));
            int[] gotNoSpecial = tok.encode(text, false);
            bad.check(java.util.Arrays.equals(noSpecial, gotNoSpecial), "encode(no special) " + show(text)
                    + "\n  hf   " + show(noSpecial) + "\n  java " + show(gotNoSpecial));
            String decoded = tok.decode(ids, false);
            bad.check(probe.get("decoded").equals(decoded), "decode " + show(ids) + "\n  hf   "
                    + show((String) probe.get("decoded")) + "\n  java " + show(decoded));
            String decodedSkip = tok.decode(ids, true);
            bad.check(probe.get("decoded_skip_special").equals(decodedSkip), "decode(skip) " + show(ids) + "\n  hf   "
                    + show((String) probe.get("decoded_skip_special")) + "\n  java " + show(decodedSkip));
        }
        bad.assertNone(name + " probes");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2", "spm_metaspace",
            "misc_bpe"})
    void decodeOfRandomIdsMatchesHf(String name) {
        Tokenizer tok = load(name);
        Map<String, Object> expected = Json.object(readJson(dir(name).resolve("expected.json")), "expected");
        Mismatches bad = new Mismatches();
        for (Object o : Json.array(expected.get("decode_cases"), "decode_cases")) {
            Map<String, Object> c = Json.object(o, "case");
            int[] ids = ints(c.get("ids"));
            String got = tok.decode(ids, false);
            bad.check(c.get("decoded").equals(got), "decode " + show(ids) + "\n  hf   " + show((String) c.get("decoded"))
                    + "\n  java " + show(got));
            String gotSkip = tok.decode(ids, true);
            bad.check(c.get("decoded_skip_special").equals(gotSkip), "decode(skip) " + show(ids) + "\n  hf   "
                    + show((String) c.get("decoded_skip_special")) + "\n  java " + show(gotSkip));
        }
        bad.assertNone(name + " decode cases");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2", "spm_metaspace",
            "misc_bpe"})
    void randomStringsMatchHf(String name) {
        Tokenizer tok = load(name);
        List<String> strings = randomStrings();
        Map<String, Object> expected = Json.object(readJson(dir(name).resolve("random_expected.json.gz")), "random");
        List<Object> rows = Json.array(expected.get("rows"), "rows");
        assertEquals(strings.size(), rows.size());
        assertTrue(rows.size() >= 3000);
        long decodedRows = Json.integer(expected.get("decoded_rows"), "decoded_rows");
        Mismatches bad = new Mismatches();
        Mismatches badDecode = new Mismatches();
        for (int i = 0; i < rows.size(); i++) {
            List<Object> row = Json.array(rows.get(i), "row");
            String text = strings.get(i);
            int[] ids = ints(row.get(0));
            int[] got = tok.encode(text);
            bad.check(java.util.Arrays.equals(ids, got), "#" + i + " encode " + show(text) + "\n  hf   " + show(ids)
                    + "\n  java " + show(got));
            if (i >= decodedRows) continue;
            String decoded = row.get(1) == null ? text : (String) row.get(1);
            String gotDecoded = tok.decode(ids, true);
            badDecode.check(decoded.equals(gotDecoded), "#" + i + " decode " + show(ids) + "\n  hf   " + show(decoded)
                    + "\n  java " + show(gotDecoded));
        }
        bad.assertNone(name + " random encode");
        badDecode.assertNone(name + " random decode");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bytelevel_smollm", "spm_llama2", "bytelevel_llama3", "bytelevel_qwen2", "spm_metaspace",
            "misc_bpe"})
    void streamDecoderAgreesWithDecode(String name) {
        Tokenizer tok = load(name);
        Mismatches bad = new Mismatches();
        List<String> strings = randomStrings();
        // The first 1500 random strings and the long ones at the end keep this quick.
        List<String> texts = new ArrayList<>(strings.subList(0, 1500));
        texts.addAll(strings.subList(3000, strings.size()));
        int checked = 0;
        for (String text : texts) checked += checkStream(tok, text, bad);
        assertTrue(checked > 2000, "checked " + checked);
        bad.assertNone(name + " stream decode");
    }

    /** Streams the ids of text through a StreamDecoder; returns how many decodes could be compared. */
    private static int checkStream(Tokenizer tok, String text, Mismatches bad) {
        int[] ids = tok.encode(text);
        int checked = 0;
        for (boolean skip : new boolean[]{false, true}) {
            String whole = tok.decode(ids, skip);
            if (whole.indexOf('\uFFFD') >= 0) continue; // only promised for valid UTF-8 output
            StreamDecoder stream = tok.newStreamDecoder(skip);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = stream.push(id);
                bad.check(piece.indexOf('\uFFFD') < 0, "stream emitted U+FFFD for " + show(text));
                sb.append(piece);
            }
            sb.append(stream.finish());
            bad.check(whole.contentEquals(sb), "stream " + show(text) + "\n  decode " + show(whole)
                    + "\n  stream " + show(sb.toString()));
            checked++;
        }
        return checked;
    }
}
