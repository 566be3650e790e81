package moice.io.gguf;

import java.util.Optional;

/**
 * Types of GGUF metadata values, with their file ids. Scalars have a fixed size; a string is a u64 byte length and
 * UTF-8 bytes; an array is an element type (u32), a u64 count and the elements (arrays may nest).
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, -1),
    ARRAY(9, -1),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    /** The id stored in the file. */
    public final int id;
    private final int fixedSize;

    GgufValueType(int id, int fixedSize) {
        this.id = id;
        this.fixedSize = fixedSize;
    }

    /** The type with file id {@code id}, or empty if there is none. */
    public static Optional<GgufValueType> fromId(long id) {
        for (GgufValueType t : values()) if (t.id == id) return Optional.of(t);
        return Optional.empty();
    }

    /** Whether this is one of the eight integer types. */
    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    /** Bytes of one value, or -1 for strings and arrays, whose size depends on their content. */
    int fixedSize() {
        return fixedSize;
    }

    /** The fewest file bytes one value of this type can take: what bounds an element count by the file size. */
    int minBytes() {
        return switch (this) {
            case STRING -> 8;      // the u64 length of an empty string
            case ARRAY -> 12;      // u32 element type + u64 count of an empty array
            default -> fixedSize;
        };
    }

    /** Lower-case name as in the GGUF spec (uint8, float32, string, ...), used in messages. */
    public String specName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
