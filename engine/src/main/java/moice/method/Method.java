package moice.method;

import moice.attention.MsPoeAttention;
import moice.attention.Routers;

import java.util.Arrays;

/**
 * An attention method as an immutable value: what {@link Methods#sessions} runs on a loaded model. Parsed from the
 * one spec syntax by {@link MethodSpec} (every CLI flag and {@code eval --methods}); bases are absolute RoPE bases,
 * already resolved against the model's rope_theta.
 */
public sealed interface Method {
    /** The official MoICE base ratios (multiples of rope_theta), N = 7: equal weights and random routing default to them. */
    java.util.List<Double> OFFICIAL_BASE_RATIOS = java.util.List.of(1.0, 1.75, 1.8, 1.9, 2.0, 2.25, 2.5);
    /** Standard deviation of random router weights: the official initialisation ({@code routers init}). */
    double RANDOM_ROUTER_STD = 0.02;
    /** Seed of {@code random} without one. */
    long DEFAULT_RANDOM_SEED = 1;

    /** A short name for reports and tables. */
    String label();

    /**
     * Whether the method routes among RoPE bases with MoICE routers (moice, equal, random): only these have routing
     * decisions to record and report.
     */
    default boolean routes() {
        return this instanceof Moice || this instanceof EqualWeights || this instanceof RandomRouting;
    }

    /** The official ratios times {@code theta}. */
    static double[] officialBases(double theta) {
        return OFFICIAL_BASE_RATIOS.stream().mapToDouble(r -> r * theta).toArray();
    }

    /** Plain RoPE attention, as the model was trained. */
    record Vanilla() implements Method {
        @Override
        public String label() { return "vanilla"; }
    }

    /** MoICE with trained (or any given) routers; {@code label} says where they came from. */
    record Moice(Routers routers, String label) implements Method {
        public Moice {
            if (routers == null) throw new IllegalArgumentException("MoICE needs routers");
        }
    }

    /**
     * The paper's "equal weights" control: every base mixed with weight 1/N, no router. Runs as MoICE with all-zero
     * router weights and K = N (logits all 0, so the softmax gives every expert exactly 1/N).
     */
    record EqualWeights(double[] bases) implements Method {
        public EqualWeights {
            bases = checkBases(bases);
        }

        @Override
        public String label() { return "equal"; }

        /** All-zero routers over the bases, K = N. */
        public Routers routers(int headDim, int layers) {
            int n = bases.length;
            float[][] g1 = new float[layers][n * headDim], g2 = new float[layers][n * n], g3 = new float[layers][n * headDim];
            return new Routers(bases.clone(), n, headDim, g1, g2, g3);
        }

        @Override
        public boolean equals(Object o) { return o instanceof EqualWeights e && Arrays.equals(bases, e.bases); }

        @Override
        public int hashCode() { return Arrays.hashCode(bases); }

        @Override
        public String toString() { return "EqualWeights" + Arrays.toString(bases); }
    }

    /**
     * The paper's "random routing" control: MoICE with fixed untrained routers drawn from normal(0, 0.02) (as
     * {@code routers init --seed SEED} draws them), keeping the {@code topK} best of the bases.
     */
    record RandomRouting(double[] bases, int topK, long seed) implements Method {
        public RandomRouting {
            bases = checkBases(bases);
            if (topK < 1 || topK > bases.length)
                throw new IllegalArgumentException("top_k " + topK + " outside [1, " + bases.length + "]");
        }

        @Override
        public String label() { return "random"; }

        /** The routers: normal(0, {@value #RANDOM_ROUTER_STD}) from {@code seed}. */
        public Routers routers(int headDim, int layers) {
            return Routers.random(bases, topK, headDim, layers, RANDOM_ROUTER_STD, seed);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RandomRouting r && Arrays.equals(bases, r.bases) && topK == r.topK && seed == r.seed;
        }

        @Override
        public int hashCode() { return Arrays.hashCode(bases) * 31 + Long.hashCode(seed) + topK; }

        @Override
        public String toString() { return "RandomRouting" + Arrays.toString(bases) + "[k=" + topK + ", seed=" + seed + "]"; }
    }

    /**
     * Attention Buckets: one whole-model pass per base, logits combined. {@code bases} null: the paper's retrieval-QA
     * set scaled by rope_theta / 10000 ({@link moice.model.AttentionBuckets#retrievalQaBases}).
     */
    record AttentionBuckets(double[] bases) implements Method {
        public AttentionBuckets {
            if (bases != null) bases = checkBases(bases);
        }

        @Override
        public String label() { return "ab"; }

        @Override
        public boolean equals(Object o) { return o instanceof AttentionBuckets a && Arrays.equals(bases, a.bases); }

        @Override
        public int hashCode() { return Arrays.hashCode(bases); }

        @Override
        public String toString() { return "AttentionBuckets" + Arrays.toString(bases); }
    }

    /**
     * Ms-PoE with head ratios {@code min + (max − min)·rank/H}; {@code groupRatios}: every query head uses its KV head's
     * ratio (see {@link MsPoeAttention}).
     */
    record MsPoe(double min, double max, boolean groupRatios) implements Method {
        /** The paper's ratios 1.2 .. 1.8, per head. */
        public static final MsPoe DEFAULT = new MsPoe(MsPoeAttention.DEFAULT_MIN_RATIO, MsPoeAttention.DEFAULT_MAX_RATIO,
                false);

        public MsPoe {
            if (!(min > 0) || !(max >= min) || Double.isInfinite(max))
                throw new IllegalArgumentException("Ms-PoE ratios need 0 < min <= max, got " + min + ", " + max);
        }

        @Override
        public String label() { return "mspoe"; }
    }

    private static double[] checkBases(double[] bases) {
        if (bases == null || bases.length == 0) throw new IllegalArgumentException("at least one base is needed");
        for (double b : bases)
            if (!(b > 0) || Double.isInfinite(b)) throw new IllegalArgumentException("base " + b + " is not positive");
        return bases.clone();
    }
}
