package moice.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The vocabulary's open-addressing table against {@link HashMap}, with colliding hashes and absent keys. */
class StringIntTableTest {
    @Test
    void findsEveryKeyAndNoOther() {
        Map<String, Integer> map = new HashMap<>();
        Random random = new Random(7);
        for (int i = 0; i < 5_000; i++) {
            char[] c = new char[1 + random.nextInt(6)];
            for (int j = 0; j < c.length; j++) c[j] = (char) (0x20 + random.nextInt(0x300)); // ASCII, Latin, Greek
            map.put(new String(c), i);
        }
        // "Aa" and "BB" (and their concatenations) share one String.hashCode: the probe must compare contents
        for (String s : new String[] {"Aa", "BB", "AaAa", "AaBB", "BBAa", "BBBB"}) map.put(s, map.size() + 10_000);
        map.put("", 123_456);
        StringIntTable table = new StringIntTable(map);
        assertEquals(map.size(), table.size());
        for (Map.Entry<String, Integer> e : map.entrySet()) assertEquals(e.getValue(), table.get(e.getKey()), e.getKey());
        for (int i = 0; i < 5_000; i++) {
            String absent = "absent " + i;
            assertEquals(-1, table.get(absent));
        }
        assertEquals(-1, new StringIntTable(Map.of()).get("x"));
    }
}
