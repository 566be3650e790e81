package moice.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code pre_tokenizer} step: cuts normalized text into pre-tokens ("words") that the BPE model encodes one by
 * one. Implementations mirror HF tokenizers' pre-tokenizers of the same names, including which pieces they drop.
 */
public sealed interface PreTokenizer {
    /** Appends the pre-tokens of {@code piece} to {@code out}; empty pieces are never appended. */
    void split(PreToken piece, List<PreToken> out);

    /** Applies each step to every piece the previous step produced. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public void split(PreToken piece, List<PreToken> out) {
            List<PreToken> current = List.of(piece);
            for (PreTokenizer step : steps) {
                List<PreToken> next = new ArrayList<>();
                for (PreToken p : current) step.split(p, next);
                current = next;
            }
            out.addAll(current);
        }
    }

    /**
     * Splits on a regex (Oniguruma pattern translated by {@link OnigRegex}, or a literal); with {@code invert} the
     * matches are the pieces and the text between them the delimiters.
     */
    record Split(Pattern pattern, SplitBehavior behavior, boolean invert) implements PreTokenizer {
        /**
         * A split on an Oniguruma regex as written in tokenizer.json or used by llama.cpp pre-tokenizers.
         *
         * @param source names the file and field in the error if the pattern cannot be translated
         */
        public static Split regex(String oniguruma, SplitBehavior behavior, boolean invert, String source) {
            return new Split(OnigRegex.compile(oniguruma, source), behavior, invert);
        }

        @Override
        public void split(PreToken piece, List<PreToken> out) {
            Spans spans = Spans.ofRegex(pattern, piece.text());
            if (invert) spans.invert();
            behavior.apply(piece.text(), piece.atStart(), spans, out);
        }
    }

    /**
     * GPT-2 byte-level pre-tokenization: optionally a space in front of each piece that lacks one, optionally the
     * GPT-2 regex split, then every UTF-8 byte written as its byte-level character.
     */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        static final Pattern GPT2 = OnigRegex.compile(
                "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", "GPT-2 regex");

        @Override
        public void split(PreToken piece, List<PreToken> out) {
            String text = piece.text();
            if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
            if (!useRegex) {
                out.add(new PreToken(ByteLevelAlphabet.encode(text), piece.atStart()));
                return;
            }
            List<PreToken> parts = new ArrayList<>();
            SplitBehavior.ISOLATED.apply(text, piece.atStart(), Spans.ofRegex(GPT2, text), parts);
            for (PreToken p : parts) out.add(new PreToken(ByteLevelAlphabet.encode(p.text()), p.atStart()));
        }
    }

    /** Digits (Unicode categories Nd, Nl, No) apart from other text: each on its own, or runs together. */
    record Digits(boolean individualDigits) implements PreTokenizer {
        @Override
        public void split(PreToken piece, List<PreToken> out) {
            SplitBehavior behavior = individualDigits ? SplitBehavior.ISOLATED : SplitBehavior.CONTIGUOUS;
            behavior.apply(piece.text(), piece.atStart(), Spans.ofCodePoints(UnicodeChars::isNumeric, piece.text()),
                    out);
        }
    }

    /** Whether Metaspace puts the replacement character in front of a piece that does not start with it. */
    enum PrependScheme { ALWAYS, FIRST, NEVER }

    /**
     * SentencePiece-style: spaces become {@code replacement} (usually "▁"), which is prepended per {@code scheme}
     * ({@code FIRST}: only to the piece at the start of the input), then optionally each "▁" starts a new piece.
     */
    record Metaspace(int replacement, PrependScheme scheme, boolean splitOnReplacement) implements PreTokenizer {
        @Override
        public void split(PreToken piece, List<PreToken> out) {
            String rep = Character.toString(replacement);
            String text = piece.text().replace(" ", rep);
            boolean prepend = switch (scheme) {
                case ALWAYS -> true;
                case FIRST -> piece.atStart();
                case NEVER -> false;
            };
            if (prepend && !text.startsWith(rep)) text = rep + text;
            if (!splitOnReplacement) {
                out.add(new PreToken(text, piece.atStart()));
                return;
            }
            SplitBehavior.MERGED_WITH_NEXT.apply(text, piece.atStart(),
                    Spans.ofCodePoints(cp -> cp == replacement, text), out);
        }
    }

    /** Runs of word characters and runs of other non-space characters; whitespace dropped (regex \w+|[^\w\s]+). */
    record Whitespace() implements PreTokenizer {
        private static final String WORD = "\\p{IsAlphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}";
        private static final Pattern WORDS = Pattern.compile("[" + WORD + "]+|[^" + WORD + "\\p{IsWhite_Space}]+");

        @Override
        public void split(PreToken piece, List<PreToken> out) {
            Spans spans = Spans.ofRegex(WORDS, piece.text());
            spans.invert();
            SplitBehavior.REMOVED.apply(piece.text(), piece.atStart(), spans, out);
        }
    }

    /** Splits on Unicode whitespace, which is dropped. */
    record WhitespaceSplit() implements PreTokenizer {
        @Override
        public void split(PreToken piece, List<PreToken> out) {
            SplitBehavior.REMOVED.apply(piece.text(), piece.atStart(),
                    Spans.ofCodePoints(UnicodeChars::isWhiteSpace, piece.text()), out);
        }
    }

    /** Splits off punctuation (ASCII punctuation or Unicode category P). */
    record Punctuation(SplitBehavior behavior) implements PreTokenizer {
        @Override
        public void split(PreToken piece, List<PreToken> out) {
            behavior.apply(piece.text(), piece.atStart(),
                    Spans.ofCodePoints(UnicodeChars::isPunctuation, piece.text()), out);
        }
    }

    /** BERT's: whitespace split (dropped), then punctuation isolated. */
    record Bert() implements PreTokenizer {
        @Override
        public void split(PreToken piece, List<PreToken> out) {
            List<PreToken> words = new ArrayList<>();
            new WhitespaceSplit().split(piece, words);
            for (PreToken w : words) new Punctuation(SplitBehavior.ISOLATED).split(w, out);
        }
    }

    /** Splits on one delimiter character, which is dropped. */
    record CharDelimiterSplit(int delimiter) implements PreTokenizer {
        @Override
        public void split(PreToken piece, List<PreToken> out) {
            SplitBehavior.REMOVED.apply(piece.text(), piece.atStart(),
                    Spans.ofCodePoints(cp -> cp == delimiter, piece.text()), out);
        }
    }
}
