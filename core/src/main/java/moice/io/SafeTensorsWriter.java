package moice.io;

import moice.tensor.DType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds one {@code .safetensors} file and writes it atomically (see {@link AtomicFile}).
 *
 * <p>The layout follows the reference implementation byte for byte: tensors ordered by dtype alignment (largest
 * first: F32, then BF16, then F16) and then by name, data in that same order with no gaps, header JSON compact with
 * {@code __metadata__} first and each entry as {@code {"dtype","shape","data_offsets"}}, padded with spaces to a
 * multiple of 8 bytes. Metadata keys are written sorted. Argument errors are programming errors and throw
 * {@link IllegalArgumentException}.
 */
public final class SafeTensorsWriter {
    private record Pending(String name, DType dtype, long[] shape, float[] floats, byte[] encoded) {
        long byteCount() {
            return floats != null ? 4L * floats.length : encoded.length;
        }
    }

    private final Map<String, String> metadata = new TreeMap<>();
    private final Map<String, Pending> tensors = new HashMap<>();

    /** Adds a string entry to {@code __metadata__}. */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(requireNonNull(key, "metadata key"), requireNonNull(value, "metadata value"));
        return this;
    }

    /** Adds a float32 tensor; {@code values} is row-major and must hold exactly product(shape) values. */
    public SafeTensorsWriter addF32(String name, float[] values, long... shape) {
        checkCount(name, values.length, shape);
        add(new Pending(name, DType.F32, shape.clone(), values, null));
        return this;
    }

    /**
     * Adds a tensor whose bytes are already encoded little-endian in {@code dtype} (F32, F16 or BF16): product(shape)
     * values, {@code dtype.bytesFor(1)} bytes each.
     */
    public SafeTensorsWriter addEncoded(String name, DType dtype, byte[] payload, long... shape) {
        SafeTensorsDtype.of(dtype); // rejects types safetensors cannot hold
        long elements = elements(name, shape);
        if (payload.length != Math.multiplyExact(elements, dtype.bytesFor(1)))
            throw new IllegalArgumentException(name + ": " + payload.length + " bytes for " + dtype + " of "
                    + elements + " values");
        add(new Pending(name, dtype, shape.clone(), null, payload));
        return this;
    }

    private void add(Pending p) {
        if (p.name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved");
        if (tensors.putIfAbsent(p.name, p) != null) throw new IllegalArgumentException(p.name + ": added twice");
    }

    private static void checkCount(String name, int count, long[] shape) {
        long elements = elements(name, shape);
        if (elements != count)
            throw new IllegalArgumentException(name + ": " + count + " values for shape " + Arrays.toString(shape));
    }

    private static long elements(String name, long[] shape) {
        requireNonNull(name, "tensor name");
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private static <T> T requireNonNull(T v, String what) {
        if (v == null) throw new IllegalArgumentException(what + " is null");
        return v;
    }

    /** Tensors in file order: descending alignment, then name (as the reference implementation orders them). */
    private List<Pending> fileOrder() {
        List<Pending> order = new ArrayList<>(tensors.values());
        order.sort(Comparator.comparingInt((Pending p) -> -alignmentRank(p.dtype)).thenComparing(Pending::name));
        return order;
    }

    /** Position in the reference implementation's dtype enum, which is ordered by alignment. */
    private static int alignmentRank(DType type) {
        return SafeTensorsDtype.of(type).ordinal();
    }

    /** The header bytes (JSON padded with spaces to a multiple of 8), without the 8-byte length prefix. */
    byte[] header() {
        Map<String, Object> root = new LinkedHashMap<>();
        if (!metadata.isEmpty()) root.put("__metadata__", metadata);
        long offset = 0;
        for (Pending p : fileOrder()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", SafeTensorsDtype.of(p.dtype).name());
            List<Long> shape = new ArrayList<>();
            for (long d : p.shape) shape.add(d);
            entry.put("shape", shape);
            entry.put("data_offsets", List.of(offset, offset + p.byteCount()));
            offset += p.byteCount();
            root.put(p.name, entry);
        }
        byte[] json = Json.write(root).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Writes the file atomically, replacing any existing file at {@code file}. */
    public void write(Path file) {
        byte[] header = header();
        List<Pending> order = fileOrder();
        AtomicFile.write(file, ch -> {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            buf.putLong(header.length);
            writeAll(ch, buf.flip());
            writeAll(ch, ByteBuffer.wrap(header));
            for (Pending p : order) {
                if (p.encoded != null) {
                    writeAll(ch, ByteBuffer.wrap(p.encoded));
                } else {
                    for (int i = 0; i < p.floats.length; ) {
                        buf.clear();
                        int n = Math.min(p.floats.length - i, buf.capacity() / 4);
                        buf.asFloatBuffer().put(p.floats, i, n);
                        buf.limit(4 * n);
                        writeAll(ch, buf);
                        i += n;
                    }
                }
            }
        });
    }

    private static void writeAll(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}
