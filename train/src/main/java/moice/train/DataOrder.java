package moice.train;

import java.util.Random;

/**
 * The order in which a run visits its sequences: epoch after epoch, each a fresh permutation of all sequences
 * (Fisher–Yates) drawn from a generator seeded by {@code (seed, epoch)} alone. The sequence at any position is thus a
 * function of the seed and the position, and a resumed run needs only the number of sequences already consumed.
 */
public final class DataOrder {
    private final long seed;
    private final int count;
    private long cachedEpoch = -1;
    private int[] cachedPermutation;

    /** @param count number of sequences, at least 1 */
    public DataOrder(long seed, int count) {
        if (count < 1) throw new IllegalArgumentException("no sequences");
        this.seed = seed;
        this.count = count;
    }

    /** Index of the sequence at {@code position} (0-based, counting over all epochs). */
    public int sequenceAt(long position) {
        if (position < 0) throw new IllegalArgumentException("position " + position);
        long epoch = position / count;
        if (epoch != cachedEpoch) {
            cachedPermutation = permutation(epoch);
            cachedEpoch = epoch;
        }
        return cachedPermutation[(int) (position % count)];
    }

    int[] permutation(long epoch) {
        // java.util.Random's sequence is fixed by its specification, so the order is the same on every JDK
        Random rnd = new Random(seed * 0x9E3779B97F4A7C15L + epoch);
        int[] p = new int[count];
        for (int i = 0; i < count; i++) p[i] = i;
        for (int i = count - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
