package moice.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Lossy UTF-8 decoding with one U+FFFD per maximal invalid subpart (Unicode §3.9, as Rust and Python do). */
class Utf8Test {
    private static String lossy(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) bytes[i];
        return Utf8.decodeLossy(b, b.length);
    }

    @Test
    void maximalSubparts() {
        String r = "\uFFFD";
        assertEquals("a€b", lossy('a', 0xE2, 0x82, 0xAC, 'b'));
        assertEquals(r + r, lossy(0xED, 0xB3));              // ED takes only 80..9F next: two subparts
        assertEquals(r + r, lossy(0xE0, 0x80));              // overlong lead
        assertEquals(r + r + r, lossy(0xF0, 0x80, 0x80));
        assertEquals(r + r, lossy(0xF4, 0x90));              // beyond U+10FFFF
        assertEquals(r + r, lossy(0xC0, 0xAF));
        assertEquals(r, lossy(0xE2, 0x82));                  // truncated at the end: one
        assertEquals(r + "A", lossy(0xE2, 0x82, 'A'));
        assertEquals(r, lossy(0xF0, 0x9F, 0x98));
        assertEquals(r + r, lossy(0xFF, 0xFE));
        assertEquals("😀", lossy(0xF0, 0x9F, 0x98, 0x80));
        assertEquals("", lossy());
    }

    @Test
    void validTextRoundTripsAndValidityAgreesWithJava() {
        Random rnd = new Random(3);
        for (int i = 0; i < 20000; i++) {
            byte[] b = new byte[rnd.nextInt(8)];
            rnd.nextBytes(b);
            boolean javaValid;
            try {
                StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b));
                javaValid = true;
            } catch (java.nio.charset.CharacterCodingException e) {
                javaValid = false;
            }
            assertEquals(javaValid, Utf8.isValid(b, b.length));
            if (javaValid) assertEquals(new String(b, StandardCharsets.UTF_8), Utf8.decodeLossy(b, b.length));
        }
        String text = "héllo wörld 日本語 😀 \u0000";
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        assertTrue(Utf8.isValid(utf8, utf8.length));
        assertEquals(text, Utf8.decodeLossy(utf8, utf8.length));
        assertFalse(Utf8.isValid(new byte[]{(byte) 0xC3}, 1));
    }
}
