package moice.io.gguf;

import moice.MoiceException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A GGUF file (llama.cpp's format, versions 2 and 3, little-endian): metadata and tensor views over a read-only
 * memory mapping.
 *
 * <p>Layout: magic {@code "GGUF"}, u32 version, u64 tensor count, u64 metadata count, the metadata entries (string
 * key, u32 value type, value), the tensor infos (string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset),
 * padding to {@code general.alignment} (default 32), then the data section; tensor offsets are relative to it.
 *
 * <p>{@link #open} checks every count, length and offset against the file before reading or allocating, so any
 * malformed input ends in a {@link MoiceException} whose one-line message names the file, the field (metadata key or
 * tensor name) and what was expected. Checks: magic, version 2 or 3, counts that can fit the file (and at most
 * 2^20 tensors, keys and nested arrays), known value and tensor types, array nesting depth, bools of 0 or 1, unique
 * keys and tensor names, at most 4 dims whose value and byte counts fit 63 bits, row length a multiple of the type's
 * block size, a power-of-two alignment, aligned tensor offsets and every tensor's bytes inside the file. Every
 * allocation is bounded by the bytes left in the file. Tensors of known but unsupported types open fine and fail
 * when dequantised. Strings are decoded as UTF-8 with malformed bytes replaced (U+FFFD), as files in the wild hold
 * some; overlapping tensors are allowed (read-only views cannot harm each other).
 *
 * <p>Metadata lives on the heap and survives {@link #close()}; tensor segments do not. Not thread-safe to close
 * while other threads read tensors; reading from many threads is fine.
 */
public final class GgufFile implements AutoCloseable {
    /** Alignment of the data section and tensor offsets when {@code general.alignment} is absent. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** The metadata key that overrides the alignment. */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** Greatest number of tensor dimensions (ggml's GGML_MAX_DIMS). */
    public static final int MAX_DIMS = 4;
    /** Deepest nesting of arrays we accept; real files use at most one level. */
    static final int MAX_ARRAY_DEPTH = 16;
    /**
     * Caps on objects that cost far more heap than file bytes (a tensor info or a nested array takes a few dozen
     * file bytes but a few hundred heap bytes); real files stay orders of magnitude below them.
     */
    static final long MAX_TENSORS = 1 << 20, MAX_KEYS = 1 << 20, MAX_NESTED_ARRAYS = 1 << 20;

    private static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    /** Fewest bytes a metadata entry can take: empty key length (8), value type (4), one-byte value. */
    private static final long MIN_KV_BYTES = 13;
    /** Fewest bytes a tensor info can take: empty name length (8), n_dims (4), type (4), offset (8). */
    private static final long MIN_TENSOR_INFO_BYTES = 24;
    private static final String[] DIM_PARTS = {"dim 0", "dim 1", "dim 2", "dim 3"};

    private final String source;
    private final Arena arena;
    private final int version;
    private final GgufMetadata metadata;
    private final List<GgufTensor> tensors;
    private final Map<String, GgufTensor> tensorsByName;
    private final int alignment;
    private final long dataStart;
    private final long fileSize;

    private GgufFile(String source, Arena arena, int version, GgufMetadata metadata, List<GgufTensor> tensors,
                     int alignment, long dataStart, long fileSize) {
        this.source = source;
        this.arena = arena;
        this.version = version;
        this.metadata = metadata;
        this.tensors = Collections.unmodifiableList(tensors);
        Map<String, GgufTensor> byName = new HashMap<>();
        for (GgufTensor t : tensors) byName.put(t.name(), t);
        this.tensorsByName = byName;
        this.alignment = alignment;
        this.dataStart = dataStart;
        this.fileSize = fileSize;
    }

    /**
     * Memory-maps and parses {@code path}. Files above 2 GB are fine. The caller must {@link #close()} the result
     * to unmap it.
     *
     * @throws MoiceException if the file cannot be read or is not a valid GGUF v2/v3 file
     */
    public static GgufFile open(Path path) {
        String source = path.toString();
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment data = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return parse(data, source, arena);
        } catch (IOException e) {
            arena.close();
            throw new MoiceException(source + ": cannot read GGUF file: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Parses a GGUF image that is already in memory (tests, fuzzing, embedded files); {@code source} names it in
     * messages. Tensor views are slices of {@code data}; {@link #close()} does nothing for such a file.
     */
    public static GgufFile parse(MemorySegment data, String source) {
        return parse(data, source, null);
    }

    private static GgufFile parse(MemorySegment data, String source, Arena arena) {
        GgufReader in = new GgufReader(data, source);
        if (in.size < 4 || data.get(GgufReader.I32, 0) != MAGIC)
            throw in.error("header", "expected the magic bytes 'GGUF', found " + magicText(data));
        in.skip(4, "header magic");
        long version = in.u32("header version");
        if (version != 2 && version != 3) {
            String hint = version == 1 ? " (GGUF v1 is obsolete)"
                    : Integer.reverseBytes((int) version) == 2 || Integer.reverseBytes((int) version) == 3 ? " (a big-endian file?)" : "";
            throw in.error("header version", "expected version 2 or 3, found " + version + hint);
        }
        long tensorCount = in.count("header tensor count");
        long kvCount = in.count("header metadata count");
        if (tensorCount > MAX_TENSORS)
            throw in.error("header tensor count", "expected at most " + MAX_TENSORS + " tensors, found " + tensorCount);
        if (kvCount > MAX_KEYS)
            throw in.error("header metadata count", "expected at most " + MAX_KEYS + " entries, found " + kvCount);
        if (kvCount > in.remaining() / MIN_KV_BYTES)
            throw in.error("header metadata count", "expected at most " + in.remaining() / MIN_KV_BYTES
                    + " entries in the " + in.remaining() + " bytes left, found " + kvCount);
        if (tensorCount > (in.remaining() - kvCount * MIN_KV_BYTES) / MIN_TENSOR_INFO_BYTES)
            throw in.error("header tensor count", "expected at most "
                    + (in.remaining() - kvCount * MIN_KV_BYTES) / MIN_TENSOR_INFO_BYTES + " tensors in the "
                    + in.remaining() + " bytes left, found " + tensorCount);

        Map<String, GgufMetadata.Entry> entries = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata entry #" + i + " key");
            String field = "metadata key " + GgufReader.quote(key);
            if (entries.containsKey(key)) throw in.error(field, "expected unique keys, found a second entry");
            long typeId = in.u32(field, "value type");
            GgufValueType type = GgufValueType.fromId(typeId)
                    .orElseThrow(() -> in.error(field, "expected a value type id 0..12, found " + typeId));
            entries.put(key, new GgufMetadata.Entry(type, readValue(in, type, field, 0)));
        }
        GgufMetadata metadata = new GgufMetadata(source, entries);
        int alignment = alignment(metadata, in);

        if (tensorCount > in.remaining() / MIN_TENSOR_INFO_BYTES)
            throw in.error("header tensor count", "expected at most " + in.remaining() / MIN_TENSOR_INFO_BYTES
                    + " tensor infos in the " + in.remaining() + " bytes left, found " + tensorCount);
        List<TensorInfo> infos = new ArrayList<>((int) Math.min(tensorCount, 4096));
        Set<String> seen = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            TensorInfo info = readTensorInfo(in, i, alignment);
            if (!seen.add(info.name))
                throw in.error("tensor " + GgufReader.quote(info.name), "expected unique tensor names, found a second tensor info");
            infos.add(info);
        }

        long dataStart = alignUp(in.position(), alignment);
        List<GgufTensor> tensors = new ArrayList<>(infos.size());
        for (TensorInfo info : infos) {
            String field = "tensor " + GgufReader.quote(info.name);
            long byteSize = info.rowCount * info.rowBytes;
            // Compare by subtraction: offset and size come from the file and may be near 2^63.
            if (dataStart > in.size || info.offset > in.size - dataStart || byteSize > in.size - dataStart - info.offset)
                throw in.error(field, "expected its " + byteSize + " bytes at data-section offset " + info.offset
                        + " (data section starts at " + dataStart + ") to lie inside the file of " + in.size + " bytes");
            long start = dataStart + info.offset;
            tensors.add(new GgufTensor(source, info.name, info.type, info.dims, info.offset, start, info.rowCount,
                    info.rowBytes, data.asSlice(start, byteSize)));
        }
        return new GgufFile(source, arena, (int) version, metadata, tensors, alignment, dataStart, in.size);
    }

    private record TensorInfo(String name, long[] dims, GgufType type, long offset, long rowCount, long rowBytes) {}

    private static TensorInfo readTensorInfo(GgufReader in, long index, int alignment) {
        String name = in.string("tensor info #" + index + " name");
        String field = "tensor " + GgufReader.quote(name);
        long nDims = in.u32(field, "n_dims");
        if (nDims > MAX_DIMS) throw in.error(field, "expected at most " + MAX_DIMS + " dimensions, found " + nDims);
        long[] dims = new long[(int) nDims];
        for (int d = 0; d < nDims; d++) {
            dims[d] = in.i64(field, DIM_PARTS[d]);
            if (dims[d] < 0)
                throw in.error(field, "expected dimension " + d + " below 2^63, found " + Long.toUnsignedString(dims[d]));
        }
        long typeId = in.u32(field, "type");
        GgufType type = GgufType.fromId(typeId)
                .orElseThrow(() -> in.error(field, "expected a known ggml type id, found " + typeId));
        long offset = in.i64(field, "offset");
        if (offset < 0 || offset % alignment != 0)
            throw in.error(field, "expected a data offset that is a multiple of the alignment " + alignment
                    + ", found " + Long.toUnsignedString(offset));

        long rowLength = nDims == 0 ? 1 : dims[0];
        if (rowLength % type.blockSize != 0)
            throw in.error(field, "expected a row length (dim 0) that is a multiple of " + type + "'s block size "
                    + type.blockSize + ", found " + rowLength);
        long rowCount = 1;
        try {
            for (int d = 1; d < nDims; d++) rowCount = Math.multiplyExact(rowCount, dims[d]);
            Math.multiplyExact(rowCount, rowLength);
            long rowBytes = type.rowBytes(rowLength);
            Math.multiplyExact(rowCount, rowBytes);
            return new TensorInfo(name, dims, type, offset, rowCount, rowBytes);
        } catch (ArithmeticException e) {
            throw in.error(field, "expected dimensions whose product fits 63 bits, found " + java.util.Arrays.toString(dims));
        }
    }

    private static Object readValue(GgufReader in, GgufValueType type, String field, int depth) {
        return switch (type) {
            case UINT8 -> (long) in.u8(field);
            case INT8 -> (long) (byte) in.u8(field);
            case UINT16 -> (long) Short.toUnsignedInt(in.i16(field));
            case INT16 -> (long) in.i16(field);
            case UINT32 -> in.u32(field);
            case INT32 -> (long) in.i32(field);
            case UINT64, INT64 -> in.i64(field);
            case FLOAT32 -> in.f32(field);
            case FLOAT64 -> in.f64(field);
            case BOOL -> bool(in, in.u8(field), field);
            case STRING -> in.string(field);
            case ARRAY -> readArray(in, field, depth);
        };
    }

    private static boolean bool(GgufReader in, int b, String field) {
        if (b > 1) throw in.error(field, "expected a bool byte of 0 or 1, found " + b);
        return b == 1;
    }

    private static GgufArray readArray(GgufReader in, String field, int depth) {
        if (depth >= MAX_ARRAY_DEPTH) throw in.error(field, "expected arrays nested at most " + MAX_ARRAY_DEPTH + " deep");
        long typeId = in.u32(field, "array element type");
        GgufValueType type = GgufValueType.fromId(typeId)
                .orElseThrow(() -> in.error(field, "expected an array element type id 0..12, found " + typeId));
        long count = in.count(field, "array length");
        if (count > in.remaining() / type.minBytes())
            throw in.error(field, "array of " + count + " " + type.specName() + " elements cannot fit in the "
                    + in.remaining() + " bytes left (each needs at least " + type.minBytes() + ")");
        if (count > GgufReader.MAX_JAVA_ARRAY)
            throw in.error(field, "array of " + count + " elements is too long (at most " + GgufReader.MAX_JAVA_ARRAY + ")");
        int n = (int) count;
        String where = in.file + ": " + field;
        Object values = switch (type) {
            case UINT8, INT8 -> copy(in, n, 1, new byte[n], ValueLayout.JAVA_BYTE, field);
            case BOOL -> {
                byte[] bytes = copy(in, n, 1, new byte[n], ValueLayout.JAVA_BYTE, field);
                for (int i = 0; i < n; i++)
                    if ((bytes[i] & 0xff) > 1) bool(in, bytes[i] & 0xff, GgufReader.element(field, i));
                yield bytes;
            }
            case UINT16, INT16 -> copy(in, n, 2, new short[n], GgufReader.I16, field);
            case UINT32, INT32 -> copy(in, n, 4, new int[n], GgufReader.I32, field);
            case UINT64, INT64 -> copy(in, n, 8, new long[n], GgufReader.I64, field);
            case FLOAT32 -> copy(in, n, 4, new float[n], GgufReader.F32, field);
            case FLOAT64 -> copy(in, n, 8, new double[n], GgufReader.F64, field);
            case STRING -> in.stringArrayBytes(n, field);
            case ARRAY -> {
                in.nestedArrays += n;
                if (in.nestedArrays > MAX_NESTED_ARRAYS)
                    throw in.error(field, "expected at most " + MAX_NESTED_ARRAYS + " nested arrays in the whole file");
                GgufArray[] nested = new GgufArray[n];
                for (int i = 0; i < n; i++) nested[i] = readArray(in, field + "[" + i + "]", depth + 1);
                yield nested;
            }
        };
        return new GgufArray(where, type, n, values);
    }

    /** Bulk-copies {@code n} elements of {@code width} bytes at the cursor into {@code dst} and advances. */
    private static <A> A copy(GgufReader in, int n, int width, A dst, ValueLayout layout, String field) {
        long bytes = (long) n * width;
        in.need(bytes, field);
        MemorySegment.copy(in.data, layout, in.position(), dst, 0, n);
        in.skip(bytes, field);
        return dst;
    }

    private static int alignment(GgufMetadata metadata, GgufReader in) {
        if (!metadata.has(ALIGNMENT_KEY)) return DEFAULT_ALIGNMENT;
        String field = "metadata key " + GgufReader.quote(ALIGNMENT_KEY);
        if (!metadata.type(ALIGNMENT_KEY).orElseThrow().isInteger())
            throw in.error(field, "expected an unsigned integer, found " + metadata.type(ALIGNMENT_KEY).orElseThrow().specName());
        long a = (Long) metadata.value(ALIGNMENT_KEY);
        if (a <= 0 || a > (1 << 30) || Long.bitCount(a) != 1)
            throw in.error(field, "expected a power of two between 1 and 2^30, found " + a);
        return (int) a;
    }

    private static long alignUp(long offset, int alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    private static String magicText(MemorySegment data) {
        StringBuilder b = new StringBuilder();
        for (long i = 0; i < Math.min(4, data.byteSize()); i++)
            b.append(String.format("%02x", data.get(ValueLayout.JAVA_BYTE, i) & 0xff));
        return data.byteSize() == 0 ? "an empty file" : "bytes " + b;
    }

    /** The file name (or source name) used in messages. */
    public String source() { return source; }

    /** The format version: 2 or 3. */
    public int version() { return version; }

    public GgufMetadata metadata() { return metadata; }

    /** All tensors, in file order. */
    public List<GgufTensor> tensors() { return tensors; }

    public Optional<GgufTensor> findTensor(String name) {
        return Optional.ofNullable(tensorsByName.get(name));
    }

    /** The tensor called {@code name}, or a {@link MoiceException} naming the file and the tensor. */
    public GgufTensor tensor(String name) {
        GgufTensor t = tensorsByName.get(name);
        if (t == null) throw new MoiceException(source + ": tensor " + GgufReader.quote(name) + " is missing");
        return t;
    }

    /** Alignment of the data section and of every tensor offset, in bytes. */
    public int alignment() { return alignment; }

    /** File offset where the data section starts. */
    public long dataStart() { return dataStart; }

    public long fileSize() { return fileSize; }

    /** Unmaps the file; tensor segments become unusable (access throws IllegalStateException). Idempotent. */
    @Override
    public void close() {
        if (arena != null && arena.scope().isAlive()) arena.close();
    }

    @Override
    public String toString() {
        return source + " (GGUF v" + version + ", " + metadata.keys().size() + " metadata keys, " + tensors.size() + " tensors)";
    }
}
