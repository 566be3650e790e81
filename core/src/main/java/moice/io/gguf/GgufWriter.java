package moice.io.gguf;

import moice.io.AtomicFile;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file: metadata (any value type, e.g. copied from another file), tensor infos, then the tensor
 * data aligned to {@code general.alignment} (32). Tensor bytes are produced on demand while writing, so converting a
 * large model streams instead of holding it in memory. The file appears atomically.
 */
public final class GgufWriter {
    private static final int ALIGNMENT = GgufFile.DEFAULT_ALIGNMENT;

    /** Produces the {@code byteSize} bytes of one tensor, in order, into the channel. */
    @FunctionalInterface
    public interface TensorBytes {
        void writeTo(FileChannel channel) throws IOException;
    }

    private record Tensor(String name, GgufType type, long[] dims, long byteSize, TensorBytes bytes) {}

    private final Map<String, GgufMetadata.Entry> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();

    /** Copies every key of {@code md} except those in {@code except}, keeping types and order. */
    public GgufWriter copyMetadata(GgufMetadata md, java.util.Set<String> except) {
        for (String key : md.keys()) if (!except.contains(key)) metadata.put(key, md.entry(key));
        return this;
    }

    public GgufWriter metadata(String key, GgufValueType type, Object value) {
        metadata.put(key, new GgufMetadata.Entry(type, value));
        return this;
    }

    /**
     * Adds a tensor of {@code type} with GGUF dimensions {@code dims} (ne[0], the row length, first) whose bytes
     * {@code bytes} writes: exactly {@code type.rowBytes(ne0) * (product of the other dims)} bytes.
     */
    public GgufWriter tensor(String name, GgufType type, long[] dims, TensorBytes bytes) {
        long rows = 1;
        for (int i = 1; i < dims.length; i++) rows *= dims[i];
        tensors.add(new Tensor(name, type, dims.clone(), type.rowBytes(dims[0]) * rows, bytes));
        return this;
    }

    public void write(Path file) {
        AtomicFile.write(file, ch -> {
            ByteSink out = new ByteSink(ch);
            out.bytes(new byte[]{'G', 'G', 'U', 'F'});
            out.u32(3);
            out.u64(tensors.size());
            out.u64(metadata.size());
            for (Map.Entry<String, GgufMetadata.Entry> e : metadata.entrySet()) {
                out.string(e.getKey());
                out.u32(e.getValue().type().id);
                value(out, e.getValue().type(), e.getValue().value());
            }
            long offset = 0;
            for (Tensor t : tensors) {
                out.string(t.name());
                out.u32(t.dims().length);
                for (long d : t.dims()) out.u64(d);
                out.u32(t.type().id);
                out.u64(offset);
                offset = align(offset + t.byteSize());
            }
            out.pad(ALIGNMENT);
            out.flush();
            long dataStart = ch.position();
            for (Tensor t : tensors) {
                long begin = ch.position();
                t.bytes().writeTo(ch);
                long written = ch.position() - begin;
                if (written != t.byteSize())
                    throw new IllegalStateException(t.name() + ": wrote " + written + " bytes, expected " + t.byteSize());
                long padded = align(ch.position() - dataStart) + dataStart;
                ch.write(ByteBuffer.allocate((int) (padded - ch.position())));
            }
        });
    }

    private static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static void value(ByteSink out, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> out.u8((int) (long) (Long) v);
            case BOOL -> out.u8((Boolean) v ? 1 : 0);
            case UINT16, INT16 -> out.u16((int) (long) (Long) v);
            case UINT32, INT32 -> out.u32((int) (long) (Long) v);
            case UINT64, INT64 -> out.u64((Long) v);
            case FLOAT32 -> out.u32(Float.floatToRawIntBits((Float) v));
            case FLOAT64 -> out.u64(Double.doubleToRawLongBits((Double) v));
            case STRING -> out.string((String) v);
            case ARRAY -> {
                GgufArray a = (GgufArray) v;
                out.u32(a.elementType().id);
                out.u64(a.size());
                switch (a.elementType()) {
                    case FLOAT32 -> { for (float f : a.floats()) out.u32(Float.floatToRawIntBits(f)); }
                    case FLOAT64 -> { for (double d : a.doubles()) out.u64(Double.doubleToRawLongBits(d)); }
                    case BOOL -> { for (boolean b : a.booleans()) out.u8(b ? 1 : 0); }
                    case STRING -> { for (String s : a.strings()) out.string(s); }
                    case ARRAY -> { for (GgufArray inner : a.arrays()) value(out, GgufValueType.ARRAY, inner); }
                    default -> { for (long l : a.longs()) value(out, a.elementType(), l); }
                }
            }
        }
    }

    /** Buffered little-endian writes to a channel. */
    private static final class ByteSink {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long count;

        ByteSink(FileChannel ch) {
            this.ch = ch;
        }

        private void room(int n) throws IOException {
            if (buf.remaining() < n) flush();
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) ch.write(buf);
            buf.clear();
        }

        void u8(int v) throws IOException { room(1); buf.put((byte) v); count += 1; }
        void u16(int v) throws IOException { room(2); buf.putShort((short) v); count += 2; }
        void u32(int v) throws IOException { room(4); buf.putInt(v); count += 4; }
        void u64(long v) throws IOException { room(8); buf.putLong(v); count += 8; }

        void bytes(byte[] b) throws IOException {
            for (int i = 0; i < b.length; i += buf.capacity()) {
                int n = Math.min(buf.capacity(), b.length - i);
                room(n);
                buf.put(b, i, n);
            }
            count += b.length;
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void pad(int alignment) throws IOException {
            while (count % alignment != 0) u8(0);
        }
    }
}
