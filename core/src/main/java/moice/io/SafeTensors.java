package moice.io;

import moice.MoiceException;
import moice.tensor.DType;
import moice.tensor.Matrix;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One {@code .safetensors} file, memory-mapped read-only (files over 2 GB work).
 *
 * <p>Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data region. The whole header is
 * validated at open, before any tensor byte is touched, with the reference implementation's rules: N at most 100 MB,
 * every tensor entry well-typed, {@code data_offsets} inside the data region and matching shape × dtype size, and the
 * tensors tiling the data region exactly (no gaps, no overlaps, nothing after the last one). Tensors of dtypes moice
 * does not compute with are accepted at open and rejected only when asked for.
 */
public final class SafeTensors implements TensorSource {
    /** The reference implementation refuses larger headers; so do we, which also bounds what a bad file can make us allocate. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final String METADATA_KEY = "__metadata__";

    /** One validated header entry; offsets are relative to the data region. */
    private record Entry(String name, String dtypeName, SafeTensorsDtype dtype, long[] shape, long begin, long end) {}

    private final Path file;
    private final Arena arena;
    private final boolean ownsArena;
    private final MemorySegment dataRegion;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensors(Path file, Arena arena, boolean ownsArena, MemorySegment dataRegion,
                        Map<String, Entry> entries, Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.ownsArena = ownsArena;
        this.dataRegion = dataRegion;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates {@code file}, mapping it into an arena of its own that {@link #close()} releases. */
    public static SafeTensors open(Path file) {
        Arena arena = Arena.ofShared();
        try {
            return open(file, arena, true);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Opens {@code file} mapping it into {@code arena}, which the caller owns and closes (shards of one model). */
    static SafeTensors open(Path file, Arena arena) {
        return open(file, arena, false);
    }

    private static SafeTensors open(Path file, Arena arena, boolean ownsArena) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < 8)
                throw new MoiceException(file + ": truncated: " + fileSize
                        + " bytes, but a safetensors file starts with an 8-byte header length");
            long headerLength = readFully(ch, 0, 8, file).order(ByteOrder.LITTLE_ENDIAN).getLong();
            // Unsigned compare: a length ≥ 2^63 reads as negative.
            if (headerLength < 0 || headerLength > MAX_HEADER_BYTES)
                throw new MoiceException(file + ": header length " + Long.toUnsignedString(headerLength)
                        + " exceeds the " + MAX_HEADER_BYTES + "-byte limit (not a safetensors file?)");
            if (headerLength < 2)
                throw new MoiceException(file + ": header length " + headerLength + " is too small for a JSON object");
            if (8 + headerLength > fileSize)
                throw new MoiceException(file + ": header length " + headerLength + " runs past the end of the "
                        + fileSize + "-byte file (truncated?)");
            ByteBuffer headerBytes = readFully(ch, 8, (int) headerLength, file);
            String headerText;
            try {
                headerText = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(headerBytes).toString();
            } catch (CharacterCodingException e) {
                throw new MoiceException(file + ": header is not valid UTF-8", e);
            }
            long dataSize = fileSize - 8 - headerLength;
            Header header = parseHeader(headerText, file, dataSize);
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, fileSize, arena);
            MemorySegment data = mapped.asSlice(8 + headerLength, dataSize);
            return new SafeTensors(file, arena, ownsArena, data, header.entries, header.metadata);
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length, Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) throw new MoiceException(file + ": file shrank while being read");
        }
        return buf.flip();
    }

    private record Header(Map<String, Entry> entries, Map<String, String> metadata) {}

    private static Header parseHeader(String text, Path file, long dataSize) {
        Map<String, Object> root = Json.object(Json.parse(text, file + " (header)"), file + ": header");
        Map<String, String> metadata = Map.of();
        Map<String, Entry> entries = new TreeMap<>();
        for (Map.Entry<String, Object> e : root.entrySet()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(e.getValue(), file);
            } else {
                entries.put(e.getKey(), parseEntry(e.getKey(), e.getValue(), file, dataSize));
            }
        }
        checkTiling(entries.values(), file, dataSize);
        return new Header(Collections.unmodifiableMap(entries), metadata);
    }

    private static Map<String, String> parseMetadata(Object value, Path file) {
        if (value == null) return Map.of();
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : Json.object(value, file + ": '" + METADATA_KEY + "'").entrySet()) {
            out.put(e.getKey(), Json.string(e.getValue(), file + ": '" + METADATA_KEY + "." + e.getKey() + "'"));
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(String name, Object value, Path file, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        Map<String, Object> fields = Json.object(value, where);

        String dtypeName = Json.string(required(fields, "dtype", where), where + " 'dtype'");
        SafeTensorsDtype dtype = SafeTensorsDtype.byName(dtypeName);
        if (dtype == null)
            throw new MoiceException(where + " has 'dtype' \"" + dtypeName + "\", which is not a safetensors dtype");

        List<Object> dims = Json.array(required(fields, "shape", where), where + " 'shape'");
        long[] shape = new long[dims.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = Json.integer(dims.get(i), where + " 'shape'[" + i + "]");
            if (shape[i] < 0)
                throw new MoiceException(where + " 'shape' " + Arrays.toString(dims.toArray())
                        + " has a negative dimension");
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException overflow) {
                throw new MoiceException(where + " 'shape' " + Arrays.toString(shape) + " has more elements than fit in a long");
            }
        }

        List<Object> offsets = Json.array(required(fields, "data_offsets", where), where + " 'data_offsets'");
        if (offsets.size() != 2)
            throw new MoiceException(where + " 'data_offsets' must be [begin, end], found " + offsets.size() + " numbers");
        long begin = Json.integer(offsets.get(0), where + " 'data_offsets'[0]");
        long end = Json.integer(offsets.get(1), where + " 'data_offsets'[1]");
        if (begin < 0 || begin > end || end > dataSize)
            throw new MoiceException(where + " 'data_offsets' [" + begin + ", " + end
                    + "] are out of range: need 0 ≤ begin ≤ end ≤ " + dataSize + " (the data region's size)");

        long bits;
        try {
            bits = Math.multiplyExact(elements, dtype.bits);
        } catch (ArithmeticException overflow) {
            throw new MoiceException(where + " 'shape' " + Arrays.toString(shape) + " of " + dtypeName + " overflows a byte count");
        }
        if (bits % 8 != 0 || end - begin != bits / 8)
            throw new MoiceException(where + " 'data_offsets' [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes, but 'shape' " + Arrays.toString(shape) + " of " + dtypeName + " needs "
                    + (bits % 8 == 0 ? String.valueOf(bits / 8) : bits + " bits"));
        return new Entry(name, dtypeName, dtype, shape, begin, end);
    }

    private static Object required(Map<String, Object> fields, String key, String where) {
        if (!fields.containsKey(key)) throw new MoiceException(where + ": missing '" + key + "'");
        return fields.get(key);
    }

    /** The reference implementation's rule: sorted by offset, each tensor starts where the previous ended, the last ends at the end of the file. */
    private static void checkTiling(Collection<Entry> entries, Path file, long dataSize) {
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        String previous = null;
        for (Entry e : byOffset) {
            if (e.begin != expected)
                throw new MoiceException(file + ": tensor '" + e.name + "' 'data_offsets' begin at " + e.begin + ", but "
                        + (previous == null ? "the first tensor must begin at 0"
                        : "the previous tensor '" + previous + "' ends at " + expected)
                        + " (tensors must be contiguous)");
            expected = e.end;
            previous = e.name;
        }
        if (expected != dataSize)
            throw new MoiceException(file + ": tensors cover " + expected + " bytes of the data region, but it holds "
                    + dataSize + " bytes (truncated, or trailing garbage)");
    }

    // ---- TensorSource ----

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new MoiceException(file + ": tensor '" + name + "' not found");
        return e;
    }

    /** The file this source reads. */
    public Path file() {
        return file;
    }

    @Override
    public Set<String> names() {
        return entries.keySet();
    }

    @Override
    public boolean has(String name) {
        return entries.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return entry(name).shape.clone();
    }

    @Override
    public DType dtype(String name) {
        Entry e = entry(name);
        if (e.dtype.moiceType == null)
            throw new MoiceException(file + ": tensor '" + name + "' has dtype " + e.dtypeName
                    + "; moice reads F32, F16, BF16");
        return e.dtype.moiceType;
    }

    @Override
    public Matrix matrix(String name, int rows, int cols) {
        Entry e = entry(name);
        long[] s = e.shape;
        boolean matches = (s.length == 2 && s[0] == rows && s[1] == cols) || (s.length == 1 && rows == 1 && s[0] == cols);
        if (!matches) {
            String expected = s.length == 1 && rows == 1 ? "[" + cols + "]" : "[" + rows + ", " + cols + "]";
            throw new MoiceException(file + ": tensor '" + name + "' has shape " + Arrays.toString(s)
                    + "; config.json implies " + expected);
        }
        DType type = dtype(name);
        return new Matrix(name, type, rows, cols, dataRegion.asSlice(e.begin, e.end - e.begin));
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String describe(String name) {
        entry(name);
        return file.toString();
    }

    @Override
    public void close() {
        if (ownsArena && arena.scope().isAlive()) arena.close();
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
