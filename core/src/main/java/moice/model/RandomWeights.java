package moice.model;

import moice.MoiceException;
import moice.attention.RopeScaling;
import moice.tensor.DType;
import moice.tensor.Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Random weights of a given shape, held off-heap in a chosen storage type: for benchmarks of a model shape without
 * its checkpoint. Values are uniform in ±{@code 0.05} (norm weights near 1), from a fixed seed.
 */
public final class RandomWeights implements TensorLookup {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType type;
    private final Arena arena = Arena.ofAuto();
    private long state;

    public RandomWeights(DType type, long seed) {
        this.type = type;
        this.state = seed * 0x9E3779B97F4A7C15L + 1;
    }

    /** The shape of SmolLM2-135M (Llama architecture, 134,515,008 parameters). */
    public static ModelConfig smollm2_135m() {
        return new ModelConfig("LlamaForCausalLM", 49152, 576, 1536, 30, 9, 3, 64, 1e-5f, 100000,
                RopeScaling.NONE, 8192, false, false, false, true, 0, 1, List.of(2));
    }

    /** Named shapes accepted by {@code bench --random-shape}. */
    public static ModelConfig shape(String name) {
        return switch (name) {
            case "smollm2-135m" -> smollm2_135m();
            default -> throw new MoiceException("unknown shape '" + name + "'; known: smollm2-135m");
        };
    }

    @Override
    public Matrix matrix(String name, int rows, int cols) {
        boolean norm = name.contains("norm");
        long n = (long) rows * cols;
        MemorySegment seg = arena.allocate(type.bytesFor(n), 64);
        for (long i = 0; i < n; i++) {
            float v = (norm ? 1f : 0f) + (nextFloat() - 0.5f) * 0.1f;
            switch (type) {
                case F32 -> seg.setAtIndex(F32, i, v);
                case F16 -> seg.setAtIndex(I16, i, Float.floatToFloat16(v));
                case BF16 -> seg.setAtIndex(I16, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                default -> throw new MoiceException("random weights are F32, F16 or BF16, not " + type);
            }
        }
        return new Matrix(name, type, rows, cols, seg);
    }

    @Override
    public boolean has(String name) {
        return true;
    }

    private float nextFloat() {
        state ^= state << 13;
        state ^= state >>> 7;
        state ^= state << 17;
        return (state >>> 40) * 0x1.0p-24f;
    }
}
