package moice.io;

import moice.tensor.DType;

/**
 * The element types a safetensors header may name (the reference implementation's list, plus the sub-byte and FNUZ
 * float8 types newer writers emit). Every one of them is validated for size at open; only those with a
 * {@link #moiceType} can be read as weights.
 */
enum SafeTensorsDtype {
    BOOL(8), U8(8), I8(8), F8_E5M2(8), F8_E4M3(8), F8_E8M0(8), F8_E4M3FNUZ(8), F8_E5M2FNUZ(8),
    F4(4), F6_E2M3(6), F6_E3M2(6),
    I16(16), U16(16), F16(16, DType.F16), BF16(16, DType.BF16),
    I32(32), U32(32), F32(32, DType.F32),
    F64(64), I64(64), U64(64), C64(64);

    /** Bits per element. */
    final int bits;
    /** The moice storage type, or null when moice cannot compute with this type. */
    final DType moiceType;

    SafeTensorsDtype(int bits) {
        this(bits, null);
    }

    SafeTensorsDtype(int bits, DType moiceType) {
        this.bits = bits;
        this.moiceType = moiceType;
    }

    /** The constant named {@code name} exactly, or null. */
    static SafeTensorsDtype byName(String name) {
        for (SafeTensorsDtype t : values()) if (t.name().equals(name)) return t;
        return null;
    }

    /** The safetensors dtype that stores {@code type}. */
    static SafeTensorsDtype of(DType type) {
        return switch (type) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
            default -> throw new IllegalArgumentException("safetensors cannot store " + type);
        };
    }
}
