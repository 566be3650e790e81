package moice.eval;

import moice.tokenizer.Tokenizer;

import java.nio.file.Path;

/** A plain-text prompt encoder over the real byte-level SmolLM test tokenizer. */
final class TestEncoders {
    static final Tokenizer TOKENIZER = Tokenizer.load(Path.of("src/test/resources/tokenizers/bytelevel_smollm/tokenizer.json"));

    private TestEncoders() {}

    static PromptEncoder plain() {
        return new PromptEncoder() {
            @Override
            public int[] encode(String system, String user, String answerPrefix) {
                return TOKENIZER.encode((system != null ? system + "\n\n" : "") + user + answerPrefix, true);
            }

            @Override
            public int[] tokens(String text) { return TOKENIZER.encode(text, false); }

            @Override
            public String text(int[] ids) { return TOKENIZER.decode(ids, false); }
        };
    }
}
