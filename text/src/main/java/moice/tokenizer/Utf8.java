package moice.tokenizer;

/**
 * UTF-8 decoding with the Unicode "maximal subpart" replacement policy (one U+FFFD per maximal invalid subsequence),
 * which is what Rust's {@code String::from_utf8_lossy} does and HF decoders therefore produce. Java's own decoder
 * differs on some sequences (e.g. ED B3: Java gives one U+FFFD, Rust two).
 */
final class Utf8 {
    private Utf8() {
    }

    /** Decodes bytes, replacing each maximal invalid subsequence with U+FFFD. */
    static String decodeLossy(byte[] bytes, int length) {
        StringBuilder out = new StringBuilder(length);
        decode(bytes, length, out);
        return out.toString();
    }

    /** Whether the bytes are valid UTF-8 (Rust {@code String::from_utf8} succeeds). */
    static boolean isValid(byte[] bytes, int length) {
        return decode(bytes, length, null);
    }

    /** Decodes into out (if not null); returns whether no replacement was needed. */
    private static boolean decode(byte[] bytes, int length, StringBuilder out) {
        boolean valid = true;
        int needed = 0;
        int seen = 0;
        int cp = 0;
        int lower = 0x80;
        int upper = 0xBF;
        for (int i = 0; i < length; i++) {
            int b = bytes[i] & 0xFF;
            if (needed == 0) {
                if (b <= 0x7F) {
                    if (out != null) out.append((char) b);
                } else if (b >= 0xC2 && b <= 0xDF) {
                    needed = 1;
                    cp = b & 0x1F;
                } else if (b >= 0xE0 && b <= 0xEF) {
                    if (b == 0xE0) lower = 0xA0;
                    if (b == 0xED) upper = 0x9F;
                    needed = 2;
                    cp = b & 0x0F;
                } else if (b >= 0xF0 && b <= 0xF4) {
                    if (b == 0xF0) lower = 0x90;
                    if (b == 0xF4) upper = 0x8F;
                    needed = 3;
                    cp = b & 0x07;
                } else {
                    valid = false;
                    if (out != null) out.append('\uFFFD');
                }
                continue;
            }
            if (b < lower || b > upper) {
                // The sequence so far is a maximal invalid subpart; this byte starts afresh.
                valid = false;
                if (out != null) out.append('\uFFFD');
                needed = 0;
                seen = 0;
                lower = 0x80;
                upper = 0xBF;
                i--;
                continue;
            }
            lower = 0x80;
            upper = 0xBF;
            cp = (cp << 6) | (b & 0x3F);
            if (++seen == needed) {
                if (out != null) out.appendCodePoint(cp);
                needed = 0;
                seen = 0;
            }
        }
        if (needed != 0) {
            valid = false;
            if (out != null) out.append('\uFFFD');
        }
        return valid;
    }
}
