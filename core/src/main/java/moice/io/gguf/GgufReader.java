package moice.io.gguf;

import moice.MoiceException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked little-endian cursor over a GGUF image. Every read first checks that the bytes are there, so a
 * malformed file ends in a {@link MoiceException} naming the file and the field being read, never in an index error.
 */
final class GgufReader {
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Largest Java array we will allocate for file data (the JVM's practical array limit). */
    static final int MAX_JAVA_ARRAY = Integer.MAX_VALUE - 8;

    final MemorySegment data;
    final long size;
    final String file;
    private long pos;
    /** Arrays of arrays seen so far, for the parser's cap on them. */
    long nestedArrays;

    GgufReader(MemorySegment data, String file) {
        this.data = data;
        this.size = data.byteSize();
        this.file = file;
    }

    long position() {
        return pos;
    }

    long remaining() {
        return size - pos;
    }

    /** An error about {@code field} of this file: {@code "<file>: <field>: <message>"}. */
    MoiceException error(String field, String message) {
        return new MoiceException(file + ": " + field + ": " + message);
    }

    /** Fails unless {@code n} more bytes are available at the cursor. */
    void need(long n, String field) {
        need(n, field, null);
    }

    /**
     * Fails unless {@code n} more bytes are available; the error names {@code field} followed by {@code part} (the
     * part of the field being read, or null), joined only when failing so that the happy path builds no strings.
     */
    void need(long n, String field, String part) {
        if (n < 0 || n > size - pos)
            throw error(part == null ? field : field + " " + part, "expected " + (n < 0 ? "a valid length" : n + " bytes")
                    + " at offset " + pos + ", but the file has " + (size - pos) + " bytes left (truncated file?)");
    }

    int u8(String field) {
        need(1, field);
        return Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, pos++));
    }

    short i16(String field) {
        need(2, field);
        short v = data.get(I16, pos);
        pos += 2;
        return v;
    }

    int i32(String field) {
        need(4, field);
        int v = data.get(I32, pos);
        pos += 4;
        return v;
    }

    long u32(String field) {
        return u32(field, null);
    }

    long u32(String field, String part) {
        need(4, field, part);
        int v = data.get(I32, pos);
        pos += 4;
        return Integer.toUnsignedLong(v);
    }

    long i64(String field) {
        return i64(field, null);
    }

    long i64(String field, String part) {
        need(8, field, part);
        long v = data.get(I64, pos);
        pos += 8;
        return v;
    }

    /** A u64 count or length that must also fit a signed long (files never need more). */
    long count(String field) {
        return count(field, null);
    }

    long count(String field, String part) {
        long v = i64(field, part);
        if (v < 0) throw error(part == null ? field : field + " " + part, "expected a count below 2^63, found " + Long.toUnsignedString(v));
        return v;
    }

    float f32(String field) {
        need(4, field);
        float v = data.get(F32, pos);
        pos += 4;
        return v;
    }

    double f64(String field) {
        need(8, field);
        double v = data.get(F64, pos);
        pos += 8;
        return v;
    }

    /** Checks a u64 string length at the cursor against the bytes left and returns it, leaving the cursor after it. */
    long stringLength(String field) {
        need(8, field);
        long len = data.get(I64, pos);
        pos += 8;
        if (len < 0 || len > size - pos)
            throw error(field, "string length " + Long.toUnsignedString(len) + " runs past the end of the file ("
                    + (size - pos) + " bytes left)");
        return len;
    }

    /**
     * Walks {@code count} GGUF strings at the cursor, checking every length, and returns their raw bytes (length
     * prefixes included); the cursor ends after the last one. The walk reads a heap copy that grows as needed rather
     * than the segment, so a 50k-entry vocabulary costs one bulk copy even before the JIT has warmed up.
     */
    byte[] stringArrayBytes(int count, String field) {
        long start = pos;
        long limit = Math.min(size - start, MAX_JAVA_ARRAY);
        byte[] buf = new byte[(int) Math.min(limit, Math.max(4096, 16L * count))];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, start, buf, 0, buf.length);
        long p = 0;
        for (int i = 0; i < count; i++) {
            if (limit - p < 8) {
                pos = start + p;
                need(8, element(field, i) + " length");
                throw error(field, "string array longer than " + MAX_JAVA_ARRAY + " bytes is too large");
            }
            if (p + 8 > buf.length) buf = grow(buf, start, p + 8, limit);
            long len = littleEndianLong(buf, (int) p);
            p += 8;
            if (len < 0 || len > limit - p) {
                pos = start + p;
                throw error(element(field, i) + " length", "string length " + Long.toUnsignedString(len)
                        + " runs past the end of the file (" + (size - pos) + " bytes left)");
            }
            p += len;
            if (p > buf.length) buf = grow(buf, start, p, limit);
        }
        pos = start + p;
        return buf.length == p ? buf : java.util.Arrays.copyOf(buf, (int) p);
    }

    /** {@code buf} holding file bytes from {@code start}, grown to at least {@code needed} bytes (at most limit). */
    private byte[] grow(byte[] buf, long start, long needed, long limit) {
        int length = (int) Math.min(limit, Math.max(needed, 2L * buf.length));
        byte[] bigger = java.util.Arrays.copyOf(buf, length);
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, start + buf.length, bigger, buf.length, length - buf.length);
        return bigger;
    }

    static long littleEndianLong(byte[] b, int at) {
        long v = 0;
        for (int k = 7; k >= 0; k--) v = v << 8 | (b[at + k] & 0xffL);
        return v;
    }

    static String element(String field, long index) {
        return index < 0 ? field : field + "[" + index + "]";
    }

    /** A GGUF string (u64 byte length, UTF-8 bytes); malformed UTF-8 becomes U+FFFD. */
    String string(String field) {
        long len = stringLength(field);
        if (len > MAX_JAVA_ARRAY) throw error(field, "string of " + len + " bytes is too long");
        byte[] bytes = new byte[(int) len];
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, pos, bytes, 0, bytes.length);
        pos += len;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    void skip(long n, String field) {
        need(n, field);
        pos += n;
    }

    /** Shortens and escapes text taken from the file so that messages stay one readable line. */
    static String quote(String s) {
        if (s.length() <= 120 && s.chars().allMatch(c -> c >= 0x20 && c != 0x7f)) return "'" + s + "'";
        StringBuilder b = new StringBuilder("'");
        int limit = Math.min(s.length(), 120);
        for (int i = 0; i < limit; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        if (s.length() > limit) b.append("...");
        return b.append('\'').toString();
    }
}
