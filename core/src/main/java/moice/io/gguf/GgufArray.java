package moice.io.gguf;

import moice.MoiceException;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A GGUF metadata array: an element type and its values, copied out of the file at open (so it stays valid after
 * the file is closed) in their stored width. Strings are kept as their raw bytes and decoded by each call to
 * {@link #strings()}, which keeps opening fast for 50k-entry vocabularies; the decoded strings are not kept (a
 * vocabulary's merges would hold ~3 MB of strings for the model's lifetime that only the tokenizer's construction
 * reads). The accessors return fresh Java arrays; they throw a {@link MoiceException} naming the metadata key when
 * the element type does not fit the request.
 */
public final class GgufArray {
    private final String where;
    private final GgufValueType elementType;
    private final int size;
    /** byte[] (uint8, int8, bool), short[], int[], long[], float[], double[], GgufArray[], or the raw bytes of strings. */
    private final Object values;

    GgufArray(String where, GgufValueType elementType, int size, Object values) {
        this.where = where;
        this.elementType = elementType;
        this.size = size;
        this.values = values;
    }

    /** The type of every element. */
    public GgufValueType elementType() {
        return elementType;
    }

    /** Number of elements. */
    public int size() {
        return size;
    }

    /**
     * The elements of an integer array as longs. Signed types are sign-extended, unsigned ones zero-extended; uint64
     * values above 2^63-1 come back as their two's-complement bits (negative).
     */
    public long[] longs() {
        long[] out = new long[size];
        switch (elementType) {
            case UINT8 -> { byte[] a = (byte[]) values; for (int i = 0; i < size; i++) out[i] = Byte.toUnsignedLong(a[i]); }
            case INT8 -> { byte[] a = (byte[]) values; for (int i = 0; i < size; i++) out[i] = a[i]; }
            case UINT16 -> { short[] a = (short[]) values; for (int i = 0; i < size; i++) out[i] = Short.toUnsignedLong(a[i]); }
            case INT16 -> { short[] a = (short[]) values; for (int i = 0; i < size; i++) out[i] = a[i]; }
            case UINT32 -> { int[] a = (int[]) values; for (int i = 0; i < size; i++) out[i] = Integer.toUnsignedLong(a[i]); }
            case INT32 -> { int[] a = (int[]) values; for (int i = 0; i < size; i++) out[i] = a[i]; }
            case UINT64, INT64 -> System.arraycopy((long[]) values, 0, out, 0, size);
            default -> throw mismatch("integers");
        }
        return out;
    }

    /** The elements of an integer array as ints; fails if a value does not fit a signed 32-bit int. */
    public int[] ints() {
        if (elementType == GgufValueType.INT32) return ((int[]) values).clone();
        long[] wide = longs();
        boolean unsigned64 = elementType == GgufValueType.UINT64;
        int[] out = new int[size];
        for (int i = 0; i < size; i++) {
            long v = wide[i];
            if (v != (int) v || (unsigned64 && v < 0))
                throw new MoiceException(where + ": expected values that fit a 32-bit int, element " + i + " is "
                        + (unsigned64 ? Long.toUnsignedString(v) : Long.toString(v)));
            out[i] = (int) v;
        }
        return out;
    }

    /** The elements of a float32 array, or of a float64 array narrowed to float32. */
    public float[] floats() {
        return switch (elementType) {
            case FLOAT32 -> ((float[]) values).clone();
            case FLOAT64 -> {
                double[] a = (double[]) values;
                float[] out = new float[size];
                for (int i = 0; i < size; i++) out[i] = (float) a[i];
                yield out;
            }
            default -> throw mismatch("floats");
        };
    }

    /** The elements of a float64 array, or of a float32 array widened (exactly). */
    public double[] doubles() {
        return switch (elementType) {
            case FLOAT64 -> ((double[]) values).clone();
            case FLOAT32 -> {
                float[] a = (float[]) values;
                double[] out = new double[size];
                for (int i = 0; i < size; i++) out[i] = a[i];
                yield out;
            }
            default -> throw mismatch("floats");
        };
    }

    /** The elements of a bool array. */
    public boolean[] booleans() {
        if (elementType != GgufValueType.BOOL) throw mismatch("bools");
        byte[] a = (byte[]) values;
        boolean[] out = new boolean[size];
        for (int i = 0; i < size; i++) out[i] = a[i] != 0;
        return out;
    }

    /** The elements of a string array (UTF-8 decoded; malformed bytes become U+FFFD). */
    public String[] strings() {
        if (elementType != GgufValueType.STRING) throw mismatch("strings");
        return decodeStrings((byte[]) values, size);
    }

    /** The elements of an array of arrays. */
    public List<GgufArray> arrays() {
        if (elementType != GgufValueType.ARRAY) throw mismatch("arrays");
        return List.of((GgufArray[]) values);
    }

    /** Walks the length-prefixed strings that the parser already bounds-checked. */
    private static String[] decodeStrings(byte[] raw, int count) {
        String[] out = new String[count];
        int p = 0;
        for (int i = 0; i < count; i++) {
            int len = (int) GgufReader.littleEndianLong(raw, p); // checked by the parser to lie inside raw
            p += 8;
            out[i] = new String(raw, p, len, StandardCharsets.UTF_8);
            p += len;
        }
        return out;
    }

    private MoiceException mismatch(String wanted) {
        return new MoiceException(where + ": expected an array of " + wanted + ", found an array of " + elementType.specName());
    }

    @Override
    public String toString() {
        return "array<" + elementType.specName() + ">[" + size + "]";
    }
}
