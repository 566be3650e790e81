package moice.tokenizer;

import java.util.Map;

/**
 * An immutable map from strings to non-negative ints, stored as two parallel open-addressing arrays (linear probing on
 * {@link String#hashCode}, which a String caches). A 49,152-entry vocabulary takes ~1 MB here against ~3.3 MB as a
 * {@code HashMap<String, Integer>} (a node and a boxed Integer per entry), for as long as the model is loaded.
 */
final class StringIntTable {
    private final String[] keys;
    private final int[] values;
    private final int mask;
    private final int shift;
    private final int size;

    StringIntTable(Map<String, Integer> map) {
        int cap = Integer.highestOneBit(Math.max(4, map.size()) * 2 - 1) << 1; // load factor at most 1/2
        keys = new String[cap];
        values = new int[cap];
        mask = cap - 1;
        shift = Integer.numberOfLeadingZeros(cap) + 1; // the product's top log2(cap) bits
        for (Map.Entry<String, Integer> e : map.entrySet()) {
            int i = slot(e.getKey());
            while (keys[i] != null) i = (i + 1) & mask; // a Map has no duplicate keys
            keys[i] = e.getKey();
            values[i] = e.getValue();
        }
        size = map.size();
    }

    private int slot(String key) {
        return (key.hashCode() * 0x9E3779B9) >>> shift; // Fibonacci hashing: short tokens' String hashes cluster
    }

    /** The value of {@code key}, or -1 when it is absent. */
    int get(String key) {
        for (int i = slot(key); ; i = (i + 1) & mask) {
            String k = keys[i];
            if (k == null) return -1;
            if (k.equals(key)) return values[i];
        }
    }

    int size() {
        return size;
    }
}
