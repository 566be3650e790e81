package moice.tokenizer;

/**
 * One piece of input text on its way to the BPE model.
 *
 * @param text    the piece (after normalization and any byte-level mapping so far)
 * @param atStart whether the piece begins at the very start of the input text (HF's {@code offsets_original().0 == 0},
 *                which Metaspace's {@code prepend_scheme: "first"} looks at)
 */
public record PreToken(String text, boolean atStart) {
}
