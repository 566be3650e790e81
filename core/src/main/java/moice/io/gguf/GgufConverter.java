package moice.io.gguf;

import moice.MoiceException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Re-encodes the weight matrices of a GGUF file in another type (F32, F16 or Q8_0), keeping metadata, tokenizer and
 * 1-D tensors (norms, biases) as they are. Rows are dequantised exactly and, for Q8_0, re-quantised with llama.cpp's
 * reference rounding.
 */
public final class GgufConverter {
    /** Target weight types and their {@code general.file_type} codes (llama.cpp's LLAMA_FTYPE values). */
    public enum Target {
        F32(GgufType.F32, 0), F16(GgufType.F16, 1), Q8_0(GgufType.Q8_0, 7);

        final GgufType type;
        final int fileType;

        Target(GgufType type, int fileType) {
            this.type = type;
            this.fileType = fileType;
        }
    }

    /** Quantises one float32 row into {@code type}'s blocks (only for types other than F32/F16). */
    public interface RowQuantizer {
        void quantize(float[] src, int cols, MemorySegment dst, long dstOffset);
    }

    private GgufConverter() {}

    public static void convert(Path input, Path output, Target target, RowQuantizer q8, Consumer<String> progress) {
        try (GgufFile in = GgufFile.open(input)) {
            GgufWriter w = new GgufWriter()
                    .copyMetadata(in.metadata(), Set.of("general.file_type"))
                    .metadata("general.file_type", GgufValueType.UINT32, (long) target.fileType);
            int total = in.tensors().size();
            int[] done = {0};
            for (GgufTensor t : in.tensors()) {
                boolean matrix = t.nDims() == 2;
                GgufType type = matrix ? target.type : t.type();
                if (type == GgufType.Q8_0 && t.rowLength() % GgufType.Q8_0.blockSize != 0) type = GgufType.F16;
                if (type != t.type() && !t.type().dequantSupported()) {
                    progress.accept("warning: " + t.name() + " has type " + t.type() + ", which moice cannot decode; copied unchanged");
                    type = t.type();
                }
                GgufType outType = type;
                w.tensor(t.name(), outType, t.dims(), ch -> {
                    if (outType == t.type()) copy(t, ch);
                    else encode(t, outType, q8, ch);
                    progress.accept("converted " + (++done[0]) + "/" + total + " " + t.name());
                });
            }
            w.write(output);
        } catch (IllegalStateException e) {
            throw new MoiceException(output + ": conversion failed: " + e.getMessage(), e);
        }
    }

    private static void copy(GgufTensor t, FileChannel ch) throws IOException {
        ByteBuffer b = t.data().asByteBuffer();
        while (b.hasRemaining()) ch.write(b);
    }

    private static void encode(GgufTensor t, GgufType type, RowQuantizer q8, FileChannel ch) throws IOException {
        int cols = (int) t.rowLength();
        float[] row = new float[cols];
        long rowBytes = type.rowBytes(cols);
        MemorySegment seg = MemorySegment.ofArray(new byte[(int) rowBytes]);
        ByteBuffer buf = seg.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        for (long r = 0; r < t.rowCount(); r++) {
            t.dequantizeRow(r, row, 0);
            buf.clear();
            switch (type) {
                case F32 -> { for (float v : row) buf.putFloat(v); }
                case F16 -> { for (float v : row) buf.putShort(Float.floatToFloat16(v)); }
                case Q8_0 -> q8.quantize(row, cols, seg, 0);
                default -> throw new IllegalStateException("cannot encode " + type);
            }
            buf.clear();
            while (buf.hasRemaining()) ch.write(buf);
        }
    }
}
