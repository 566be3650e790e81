package moice.io;

import moice.MoiceException;
import moice.tensor.DType;
import moice.tensor.Matrix;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A checkpoint split over several safetensors files, tied together by {@code model.safetensors.index.json}
 * ({@code {"metadata": {...}, "weight_map": {tensor: shard file name}}}). All shards are opened (and validated) at
 * open, mapped into one shared arena; every tensor the weight map names must exist in its shard. The weight map is
 * authoritative: tensors a shard holds beyond it are not listed.
 */
public final class ShardedSafeTensors implements TensorSource {
    private final Path index;
    private final Arena arena;
    private final Map<String, SafeTensors> shardOf;   // tensor name → its shard
    private final List<SafeTensors> shards;
    private final Map<String, String> metadata;

    private ShardedSafeTensors(Path index, Arena arena, Map<String, SafeTensors> shardOf, List<SafeTensors> shards,
                               Map<String, String> metadata) {
        this.index = index;
        this.arena = arena;
        this.shardOf = shardOf;
        this.shards = shards;
        this.metadata = metadata;
    }

    /** Opens the checkpoint described by the index file {@code index}; shard names resolve beside it. */
    public static ShardedSafeTensors open(Path index) {
        Map<String, Object> root = Json.object(Json.parseFile(index), index.toString());
        if (!root.containsKey("weight_map")) throw new MoiceException(index + ": missing 'weight_map'");
        Map<String, Object> weightMap = Json.object(root.get("weight_map"), index + ": 'weight_map'");
        if (weightMap.isEmpty()) throw new MoiceException(index + ": 'weight_map' is empty");
        Map<String, String> metadata = indexMetadata(root.get("metadata"), index);

        // shard file name → the tensors the map puts there, in map order
        Map<String, List<String>> tensorsByShard = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : weightMap.entrySet()) {
            String shard = Json.string(e.getValue(), index + ": 'weight_map'.'" + e.getKey() + "'");
            checkShardName(shard, e.getKey(), index);
            tensorsByShard.computeIfAbsent(shard, k -> new ArrayList<>()).add(e.getKey());
        }
        Path dir = index.toAbsolutePath().getParent();
        // Check every shard exists before mapping any, so the common failure (an incomplete download) is reported cheaply.
        for (Map.Entry<String, List<String>> e : tensorsByShard.entrySet()) {
            if (!Files.isRegularFile(dir.resolve(e.getKey()))) {
                List<String> held = e.getValue();
                String holding = "'" + held.getFirst() + "'" + (held.size() > 1 ? " and " + (held.size() - 1) + " more" : "");
                throw new MoiceException(index + ": shard '" + e.getKey() + "' (holding " + holding + ") not found");
            }
        }

        Arena arena = Arena.ofShared();
        try {
            Map<String, SafeTensors> shardOf = new TreeMap<>();
            List<SafeTensors> shards = new ArrayList<>();
            for (Map.Entry<String, List<String>> e : tensorsByShard.entrySet()) {
                SafeTensors shard = SafeTensors.open(dir.resolve(e.getKey()), arena);
                shards.add(shard);
                for (String tensor : e.getValue()) {
                    if (!shard.has(tensor))
                        throw new MoiceException(index + ": 'weight_map' puts tensor '" + tensor + "' in shard '"
                                + e.getKey() + "', but " + shard.file() + " has no such tensor");
                    shardOf.put(tensor, shard);
                }
            }
            return new ShardedSafeTensors(index, arena, Collections.unmodifiableMap(shardOf), List.copyOf(shards), metadata);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Shard names are plain file names beside the index; anything else could point outside the model directory. */
    private static void checkShardName(String shard, String tensor, Path index) {
        if (shard.isEmpty() || shard.equals(".") || shard.equals("..") || shard.contains("/") || shard.contains("\\")
                || shard.indexOf('\0') >= 0)
            throw new MoiceException(index + ": 'weight_map'.'" + tensor + "' names shard '" + shard
                    + "', which is not a plain file name");
    }

    /** The index's {@code metadata} object with values as strings (numbers such as total_size as written in JSON). */
    private static Map<String, String> indexMetadata(Object value, Path index) {
        if (value == null) return Map.of();
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : Json.object(value, index + ": 'metadata'").entrySet()) {
            Object v = e.getValue();
            out.put(e.getKey(), v instanceof String s ? s : Json.write(v));
        }
        return Collections.unmodifiableMap(out);
    }

    private SafeTensors shard(String name) {
        SafeTensors s = shardOf.get(name);
        if (s == null) throw new MoiceException(index.toAbsolutePath().getParent() + ": tensor '" + name + "' not found");
        return s;
    }

    /** The index file this source was opened from. */
    public Path index() {
        return index;
    }

    /** Number of shard files. */
    public int shardCount() {
        return shards.size();
    }

    @Override
    public Set<String> names() {
        return shardOf.keySet();
    }

    @Override
    public boolean has(String name) {
        return shardOf.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return shard(name).shape(name);
    }

    @Override
    public DType dtype(String name) {
        return shard(name).dtype(name);
    }

    @Override
    public Matrix matrix(String name, int rows, int cols) {
        return shard(name).matrix(name, rows, cols);
    }

    /** The index file's {@code metadata} (e.g. {@code total_size}); shard-level {@code __metadata__} is not merged in. */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String describe(String name) {
        return shard(name).describe(name);
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    @Override
    public String toString() {
        return index.toString();
    }
}
