package moice.tokenizer;

import moice.MoiceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad tokenizer.json files give one-line MoiceExceptions that name the file and the field. */
class TokenizerErrorsTest {
    @TempDir
    Path dir;

    private static final String MODEL = """
            {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3}, "merges": ["a b"]}""";

    private String load(String json) throws IOException {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, json);
        MoiceException e = assertThrows(MoiceException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) assertTrue(message.contains(p), "'" + p + "' missing from: " + message);
    }

    @Test
    void malformedJson() throws IOException {
        assertMentions(load("{\"model\": {"), "malformed JSON");
        assertMentions(load("[1, 2]"), "expected a JSON object");
    }

    @Test
    void missingFile() {
        MoiceException e = assertThrows(MoiceException.class, () -> Tokenizer.load(dir.resolve("nope.json")));
        assertMentions(e.getMessage(), "nope.json");
    }

    @Test
    void unsupportedModelTypes() throws IOException {
        for (String type : new String[]{"WordPiece", "Unigram", "WordLevel"}) {
            assertMentions(load("{\"model\": {\"type\": \"" + type + "\", \"vocab\": {}}}"), "model.type", type,
                    "not supported");
        }
        assertMentions(load("{\"normalizer\": null}"), "model", "missing");
    }

    @Test
    void unsupportedSteps() throws IOException {
        assertMentions(load("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                + "\"ByteLevel\"}, {\"type\": \"UnicodeScripts\"}]}, \"model\": " + MODEL + "}"),
                "pre_tokenizer.pretokenizers[1].type", "UnicodeScripts");
        assertMentions(load("{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}, "
                + "\"model\": " + MODEL + "}"), "normalizer.type", "Precompiled");
        assertMentions(load("{\"decoder\": {\"type\": \"WordPiece\"}, \"model\": " + MODEL + "}"), "decoder.type",
                "WordPiece");
        assertMentions(load("{\"post_processor\": {\"type\": \"Whatever\"}, \"model\": " + MODEL + "}"),
                "post_processor.type", "Whatever");
    }

    @Test
    void badModelData() throws IOException {
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}"),
                "model", "merges[0]", "not in the vocab");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}"),
                "merges[0]", "\"ab\"");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}"),
                "model.merges[0]", "two tokens");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -3}, \"merges\": []}}"),
                "model.vocab[\"a\"]", "negative");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 4000000000}, \"merges\": []}}"),
                "model.vocab[\"a\"]");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}"),
                "model.vocab[\"a\"]", "integer");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [], \"dropout\": 0.1}}"),
                "model.dropout");
        assertMentions(load("{\"model\": {\"type\": \"BPE\", \"merges\": []}}"), "model.vocab", "missing");
    }

    @Test
    void badPatternsAndTemplates() throws IOException {
        assertMentions(load("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\\\\Kb\"}, "
                + "\"behavior\": \"Isolated\", \"invert\": false}, \"model\": " + MODEL + "}"),
                "pre_tokenizer.pattern.Regex", "\\K");
        assertMentions(load("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, "
                + "\"behavior\": \"Isolated\", \"invert\": false}, \"model\": " + MODEL + "}"),
                "pre_tokenizer.pattern.Regex", "not supported");
        assertMentions(load("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, "
                + "\"behavior\": \"Sideways\", \"invert\": false}, \"model\": " + MODEL + "}"),
                "pre_tokenizer.behavior", "Sideways");
        assertMentions(load("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
                + "{\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], "
                + "\"special_tokens\": {}}, \"model\": " + MODEL + "}"), "post_processor.special_tokens", "<s>");
        assertMentions(load("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}, \"model\": "
                + MODEL + "}"), "pre_tokenizer.replacement", "one character");
    }

    @Test
    void unknownTokenMissingFromVocabIsReportedWhenNeeded() throws IOException {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
                + "\"unk_token\": \"<unk>\"}}");
        Tokenizer tok = Tokenizer.load(file);
        assertTrue(java.util.Arrays.equals(new int[]{0, 0}, tok.encode("aa")));
        MoiceException e = assertThrows(MoiceException.class, () -> tok.encode("ab"));
        assertMentions(e.getMessage(), file.toString(), "unk_token", "<unk>");
    }
}
