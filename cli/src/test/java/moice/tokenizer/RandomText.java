package moice.tokenizer;

import java.util.List;
import java.util.Random;

/**
 * Seeded random text that stresses tokenizers: words, whitespace of every kind, digits of several scripts,
 * punctuation, CJK and other scripts, emoji with modifiers and ZWJ, combining marks, control characters and pieces of
 * special tokens. Characters come from blocks assigned long ago, so that Unicode version differences between Java and
 * the Rust reference do not matter.
 */
final class RandomText {
    private static final String[] WHITESPACE = {" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", "\u00a0", "\u2028",
            "\u2029", "\u3000", "\u0085", "\u2009", "\u200b", "\u000b", "\u000c", "\u1680", "\u202f", "\u205f", " \n",
            "\t ", "      ", "\u001c", "\u00ad"};
    private static final String[] WORDS = ("the quick brown fox jumps over lazy dog hello world tokenizer java rust "
            + "model llama mistral qwen smol encode decode byte level merge rank vocab café naïve über straße niño "
            + "привет мир καλημέρα 日本 中文 한국어 I'm we'll THEY'RE don't").split(" ");
    private static final String[] SPECIAL_BITS = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>",
            "<unk>", "<|begin_of_text|>", "<|eot_id|>", "<|im", "<s", "</", "<|", "|>", "<mask>", "foo_bar", "[SEP]",
            "[INST]", "hello world", "Hello World", "<0x41>", "▁", "Ġ", "##", "</w>", "[UNK]", "[CLS]", "<|end_of_text|>",
            "<|start_header_id|>"};
    private static final String[] EMOJI = {"😀", "👍", "👍🏽", "👩‍👩‍👧", "👨‍💻", "🇫🇷", "🇯🇵", "❤️", "❤", "✨", "🤖",
            "🎉", "🏳️‍🌈", "☕", "🙂", "🧑🏿‍🚀"};
    private static final String[] COMBINING = {"e\u0301", "a\u0308", "o\u0302", "n\u0303", "A\u030a", "c\u0327",
            "\u0915\u094d\u0937", "\u0628\u064e", "\u05e9\u05c1", "\u0e01\u0e34", "\u1100\u1161\u11a8", "x\u0336",
            "\u0301", "\u0301\u0301", "i\u0307"};
    private static final String[] OTHER_NUMBERS = {"١٢٣", "٤", "２０", "½", "²", "Ⅻ", "۵", "߃", "๓", "①", "⁰",
            "٣٤٥٦", "𝟙𝟚"};
    private static final String[] CASE = {"ſ", "K", "İ", "ß", "ẞ", "Σ", "ς", "ǅ", "ﬁ", "Å", "ΐ"};
    private static final int[][] BLOCKS = {{0x4E00, 0x9FA5}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0xAC00, 0xD7A3},
            {0x0410, 0x044F}, {0x0391, 0x03C9}, {0x05D0, 0x05EA}, {0x0627, 0x064A}, {0x0905, 0x0939},
            {0x0E01, 0x0E2E}, {0x00A1, 0x00FF}, {0x0100, 0x017F}, {0x2000, 0x206F}, {0x2190, 0x22FF},
            {0x1F300, 0x1F5FF}, {0xFF01, 0xFF5E}, {0x0300, 0x036F}, {0x1D400, 0x1D4FF}, {0x0021, 0x007E}};

    private RandomText() {
    }

    static String string(Random rnd) {
        int pieces = List.of(1, 1, 2, 3, 4, 5, 6, 8, 10, 14, 20, 30).get(rnd.nextInt(12));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < pieces; i++) sb.append(piece(rnd));
        return sb.toString();
    }

    static String piece(Random rnd) {
        double kind = rnd.nextDouble();
        if (kind < 0.20) {
            String w = WORDS[rnd.nextInt(WORDS.length)];
            double r = rnd.nextDouble();
            return r < 0.1 ? w.toUpperCase(java.util.Locale.ROOT)
                    : r < 0.3 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w;
        }
        if (kind < 0.27) {
            StringBuilder sb = new StringBuilder();
            for (int i = 1 + rnd.nextInt(12); i > 0; i--) sb.append((char) ((rnd.nextBoolean() ? 'a' : 'A') + rnd.nextInt(26)));
            return sb.toString();
        }
        if (kind < 0.41) return WHITESPACE[rnd.nextInt(WHITESPACE.length)].repeat(1 + rnd.nextInt(3) / 2 + rnd.nextInt(2));
        if (kind < 0.49) return Long.toString((long) (rnd.nextDouble() * Math.pow(10, 1 + rnd.nextInt(10))));
        if (kind < 0.52) return OTHER_NUMBERS[rnd.nextInt(OTHER_NUMBERS.length)];
        if (kind < 0.59) {
            String punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~…—«»¿¡“”’·§©€£°±×÷→";
            StringBuilder sb = new StringBuilder();
            for (int i = 1 + rnd.nextInt(3); i > 0; i--) sb.append(punct.charAt(rnd.nextInt(punct.length())));
            return sb.toString();
        }
        if (kind < 0.63) return List.of("'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll", "’s",
                "n't", "'").get(rnd.nextInt(14));
        if (kind < 0.71) {
            int[] block = BLOCKS[rnd.nextInt(BLOCKS.length)];
            StringBuilder sb = new StringBuilder();
            for (int i = 1 + rnd.nextInt(6); i > 0; i--) {
                int cp = block[0] + rnd.nextInt(block[1] - block[0] + 1);
                if (Character.getType(cp) != Character.UNASSIGNED) sb.appendCodePoint(cp);
            }
            return sb.toString();
        }
        if (kind < 0.76) return EMOJI[rnd.nextInt(EMOJI.length)];
        if (kind < 0.80) return COMBINING[rnd.nextInt(COMBINING.length)];
        if (kind < 0.82) return CASE[rnd.nextInt(CASE.length)];
        if (kind < 0.91) return SPECIAL_BITS[rnd.nextInt(SPECIAL_BITS.length)];
        if (kind < 0.93) {
            int[] odd = {0, 1, 0x1f, 0x7f, 0xad, 0xfeff, 0xfffd, 0xe000, 0x1d518, 0x1f600, 0x2060, 0x200d, 0x200c,
                    0x17f, 0x212a, 0x130, 0xdf, 0x1e9e, 0x3a3, 0xb2, 0xbd};
            return Character.toString(odd[rnd.nextInt(odd.length)]);
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 1 + rnd.nextInt(8); i > 0; i--) sb.append((char) (0x20 + rnd.nextInt(0x5f)));
        return sb.toString();
    }
}
