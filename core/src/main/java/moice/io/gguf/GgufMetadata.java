package moice.io.gguf;

import moice.MoiceException;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The key/value metadata of a GGUF file, in file order. Values live on the Java heap, so they stay valid after the
 * file is closed.
 *
 * <p>Typed getters fail with a {@link MoiceException} that names the file and the key and says which type was
 * expected and which was found (or that the key is missing); the {@code opt*} variants return empty for a missing key
 * but still fail on a key of the wrong type. Integer getters accept any of the eight integer types; float getters
 * accept float32 and float64.
 */
public final class GgufMetadata {
    /** One stored value: integers as Long (uint64 as raw bits), Float, Double, Boolean, String or GgufArray. */
    record Entry(GgufValueType type, Object value) {}

    private final String file;
    private final Map<String, Entry> entries;

    GgufMetadata(String file, Map<String, Entry> entries) {
        this.file = file;
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** All keys, in file order. */
    public Set<String> keys() {
        return entries.keySet();
    }

    public boolean has(String key) {
        return entries.containsKey(key);
    }

    /** The stored entry (type and value) of {@code key}, for copying it into another file. */
    Entry entry(String key) {
        return require(key, "a value");
    }

    /** The stored type of {@code key}, or empty if it is missing. */
    public Optional<GgufValueType> type(String key) {
        Entry e = entries.get(key);
        return e == null ? Optional.empty() : Optional.of(e.type());
    }

    /**
     * The value as stored: {@code Long} for every integer type (uint64 above 2^63-1 as negative raw bits),
     * {@code Float}, {@code Double}, {@code Boolean}, {@code String} or {@link GgufArray}.
     */
    public Object value(String key) {
        return require(key, "a value").value();
    }

    public String string(String key) {
        return optString(key).orElseThrow(() -> missing(key, "a string"));
    }

    public Optional<String> optString(String key) {
        Entry e = entries.get(key);
        if (e == null) return Optional.empty();
        if (e.type() != GgufValueType.STRING) throw mismatch(key, "a string", e);
        return Optional.of((String) e.value());
    }

    /** Any integer type as a long; fails for a uint64 above 2^63-1. */
    public long integer(String key) {
        return optInteger(key).orElseThrow(() -> missing(key, "an integer"));
    }

    public OptionalLong optInteger(String key) {
        Entry e = entries.get(key);
        if (e == null) return OptionalLong.empty();
        if (!e.type().isInteger()) throw mismatch(key, "an integer", e);
        long v = (Long) e.value();
        if (e.type() == GgufValueType.UINT64 && v < 0)
            throw new MoiceException(file + ": metadata key " + GgufReader.quote(key)
                    + ": expected an integer below 2^63, found " + Long.toUnsignedString(v));
        return OptionalLong.of(v);
    }

    /** Any integer type whose value fits a signed 32-bit int. */
    public int intValue(String key) {
        long v = integer(key);
        if (v != (int) v)
            throw new MoiceException(file + ": metadata key " + GgufReader.quote(key) + ": expected an integer that fits 32 bits, found " + v);
        return (int) v;
    }

    /** float32 (widened exactly) or float64. */
    public double floatValue(String key) {
        return optFloat(key).orElseThrow(() -> missing(key, "a float"));
    }

    public OptionalDouble optFloat(String key) {
        Entry e = entries.get(key);
        if (e == null) return OptionalDouble.empty();
        return switch (e.type()) {
            case FLOAT32 -> OptionalDouble.of((Float) e.value());
            case FLOAT64 -> OptionalDouble.of((Double) e.value());
            default -> throw mismatch(key, "a float", e);
        };
    }

    public boolean bool(String key) {
        return optBool(key).orElseThrow(() -> missing(key, "a bool"));
    }

    public Optional<Boolean> optBool(String key) {
        Entry e = entries.get(key);
        if (e == null) return Optional.empty();
        if (e.type() != GgufValueType.BOOL) throw mismatch(key, "a bool", e);
        return Optional.of((Boolean) e.value());
    }

    public GgufArray array(String key) {
        return optArray(key).orElseThrow(() -> missing(key, "an array"));
    }

    public Optional<GgufArray> optArray(String key) {
        Entry e = entries.get(key);
        if (e == null) return Optional.empty();
        if (e.type() != GgufValueType.ARRAY) throw mismatch(key, "an array", e);
        return Optional.of((GgufArray) e.value());
    }

    /** See {@link GgufArray#strings()}. */
    public String[] stringArray(String key) {
        return array(key).strings();
    }

    public Optional<String[]> optStringArray(String key) {
        return optArray(key).map(GgufArray::strings);
    }

    /** See {@link GgufArray#ints()}. */
    public int[] intArray(String key) {
        return array(key).ints();
    }

    public Optional<int[]> optIntArray(String key) {
        return optArray(key).map(GgufArray::ints);
    }

    /** See {@link GgufArray#longs()}. */
    public long[] longArray(String key) {
        return array(key).longs();
    }

    /** See {@link GgufArray#floats()}. */
    public float[] floatArray(String key) {
        return array(key).floats();
    }

    public Optional<float[]> optFloatArray(String key) {
        return optArray(key).map(GgufArray::floats);
    }

    /** A short one-line rendering of a value for listings: scalars as text, arrays as their type and length. */
    public String describe(String key) {
        Entry e = require(key, "a value");
        return switch (e.type()) {
            case UINT64 -> Long.toUnsignedString((Long) e.value());
            case STRING -> GgufReader.quote((String) e.value());
            default -> String.valueOf(e.value());
        };
    }

    private Entry require(String key, String expected) {
        Entry e = entries.get(key);
        if (e == null) throw missing(key, expected);
        return e;
    }

    private MoiceException missing(String key, String expected) {
        return new MoiceException(file + ": metadata key " + GgufReader.quote(key) + " is missing (expected " + expected + ")");
    }

    private MoiceException mismatch(String key, String expected, Entry e) {
        String found = e.type() == GgufValueType.ARRAY ? ((GgufArray) e.value()).toString() : e.type().specName();
        return new MoiceException(file + ": metadata key " + GgufReader.quote(key) + ": expected " + expected + ", found " + found);
    }
}
