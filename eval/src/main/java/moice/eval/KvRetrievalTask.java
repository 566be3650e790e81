package moice.eval;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Key-value retrieval as in "Lost in the Middle": a JSON object of random UUID keys and values, filled to the length,
 * and the value of the key at the chosen position asked for. Scored as there: the value occurs in the answer.
 */
public final class KvRetrievalTask implements SyntheticTask {
    @Override
    public String name() { return "kv"; }

    /** A version-4 UUID drawn from {@code random}. */
    static String uuid(Random random) {
        long hi = (random.nextLong() & ~0xF000L) | 0x4000L;
        long lo = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new java.util.UUID(hi, lo).toString();
    }

    /** The prompt for {@code pairs} (key, value) asking for {@code key}. */
    static String prompt(List<String[]> pairs, String key) {
        StringBuilder sb = new StringBuilder("Extract the value corresponding to the specified key in the JSON object "
                + "below.\n\nJSON data:\n");
        for (int i = 0; i < pairs.size(); i++) {
            sb.append(i == 0 ? "{" : " ").append('"').append(pairs.get(i)[0]).append("\": \"").append(pairs.get(i)[1])
                    .append('"').append(i + 1 < pairs.size() ? ",\n" : "}");
        }
        return sb.append("\n\nKey: \"").append(key).append("\"\nCorresponding value:").toString();
    }

    static int keyIndex(int pairs, double depth) {
        return (int) Math.round(depth * (pairs - 1));
    }

    @Override
    public Sample sample(int length, double depth, int index, long seed, PromptEncoder encoder) {
        Random random = SyntheticTask.random(seed, name(), length, depth, index);
        int most = Math.max(2, length / 20); // a pair is far more than 20 tokens
        Set<String> seen = new HashSet<>();
        List<String[]> all = new ArrayList<>(most);
        while (all.size() < most) {
            String k = uuid(random), v = uuid(random);
            if (seen.add(k) && seen.add(v)) all.add(new String[]{k, v});
        }
        java.util.function.IntFunction<String> user = n -> {
            List<String[]> pairs = all.subList(0, n);
            return prompt(pairs, pairs.get(keyIndex(n, depth))[0]);
        };
        int n = Budget.largestFitting(2, most, length, k -> encoder.encode(null, user.apply(k), "").length,
                "the key-value prompt with two pairs");
        String text = user.apply(n);
        int at = keyIndex(n, depth);
        return new Sample(null, text, "", List.of(all.get(at)[1]), Metric.CONTAINS, depth, at + 1, n,
                encoder.encode(null, text, "").length);
    }
}
