package moice.attention;

/**
 * Rotary position embedding for one base: inverse frequencies (with the model's rope scaling applied, exactly as HF
 * transformers' {@code ROPE_INIT_FUNCTIONS} compute them) and a cos/sin table over positions that grows on demand.
 *
 * <p>Thread-safety: {@link #ensure(int)} must be called before concurrent readers use {@link #cos()}/{@link #sin()}
 * for the positions they need; it may run while other threads read positions already covered.
 */
public final class Rope {
    /** Positions per key tile of the transposed tables: the attention kernels' key tile. */
    static final int TILE = CausalAttention.KEY_TILE;
    private final int headDim;
    private final float[] invFreq;
    private final float attentionFactor;
    private final double positionRatio;
    // volatile: sessions on other threads read the tables while one thread extends them (a grown table is a new
    // array holding the old entries, so a reader sees either one, each complete)
    private volatile float[] cos = new float[0];
    private volatile float[] sin = new float[0];
    // the same entries transposed per key tile, for rotating a tile of keys with vectors (see cosTiles)
    private volatile float[] cosTiles = new float[0];
    private volatile float[] sinTiles = new float[0];
    /** Positions the tile tables cover; written after both arrays, so a reader that sees it sees them. */
    private volatile int tilePositions;
    private int positions;

    private Rope(int headDim, float[] invFreq, float attentionFactor, double positionRatio) {
        this.headDim = headDim;
        this.invFreq = invFreq;
        this.attentionFactor = attentionFactor;
        this.positionRatio = positionRatio;
    }

    /**
     * The same rotation with every position {@code p} read as the fractional position {@code p / ratio} (Ms-PoE
     * position interpolation): the table entry of {@code p} holds the angles {@code (p / ratio) · invFreq}, computed in
     * double and rounded to float32 like the reference. Ratio 1 gives exactly this rope's table.
     */
    public Rope withPositionRatio(double ratio) {
        if (!(ratio > 0)) throw new IllegalArgumentException("position ratio " + ratio);
        return new Rope(headDim, invFreq, attentionFactor, ratio);
    }

    /**
     * RoPE with base {@code theta}, the model's scaling, for a sequence whose longest position is {@code seqLen - 1}
     * ({@code seqLen} only matters for dynamic NTK scaling, which changes the base once the sequence outgrows
     * {@code maxPositions}).
     */
    public static Rope of(double theta, int headDim, RopeScaling scaling, int maxPositions, int seqLen) {
        int half = headDim / 2;
        float[] inv = new float[half];
        String type = scaling == null ? "default" : scaling.type();
        double base = theta;
        if (type.equals("dynamic")) {
            int original = scaling.originalMaxPositions() > 0 ? scaling.originalMaxPositions() : maxPositions;
            if (seqLen > original) {
                double f = scaling.factor();
                base = theta * StrictMath.pow(f * seqLen / original - (f - 1), (double) headDim / (headDim - 2));
            }
        }
        for (int i = 0; i < half; i++) inv[i] = defaultInvFreq(base, i, headDim);
        float attention = 1f;
        switch (type) {
            case "default", "dynamic" -> { }
            case "linear" -> {
                for (int i = 0; i < half; i++) inv[i] = (float) (inv[i] / scaling.factor());
            }
            case "llama3" -> llama3(inv, scaling);
            case "yarn" -> attention = yarn(inv, theta, headDim, scaling, maxPositions);
            default -> throw new IllegalArgumentException("rope type " + type);
        }
        return new Rope(headDim, inv, attention, 1.0);
    }

    /** HF: {@code 1 / base ** (arange(0, d, 2).float() / d)}, evaluated in float32 like torch does. */
    private static float defaultInvFreq(double base, int i, int headDim) {
        float exponent = (float) (2 * i) / (float) headDim;
        float power = (float) StrictMath.pow((float) base, exponent);
        return 1f / power;
    }

    private static void llama3(float[] inv, RopeScaling s) {
        double factor = s.factor(), low = s.lowFreqFactor(), high = s.highFreqFactor();
        double oldCtx = s.originalMaxPositions();
        double lowFreqWavelen = oldCtx / low, highFreqWavelen = oldCtx / high;
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            float scaled = wavelen > lowFreqWavelen ? (float) (inv[i] / factor) : inv[i];
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                double smooth = (oldCtx / wavelen - low) / (high - low);
                scaled = (float) ((1 - smooth) * scaled / factor + smooth * scaled);
            }
            inv[i] = scaled;
        }
    }

    private static float yarn(float[] inv, double theta, int headDim, RopeScaling s, int maxPositions) {
        double factor = s.factor();
        int original = s.originalMaxPositions() > 0 ? s.originalMaxPositions() : maxPositions;
        double attention = s.yarnAttentionFactor();
        double low = correctionDim(s.betaFast(), headDim, theta, original);
        double high = correctionDim(s.betaSlow(), headDim, theta, original);
        if (s.truncate()) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, headDim - 1);
        if (low == high) high += 0.001;
        for (int i = 0; i < inv.length; i++) {
            float extrapolation = inv[i];
            float interpolation = (float) (extrapolation / factor);
            float ramp = (float) Math.min(1, Math.max(0, (i - low) / (high - low)));
            float extrapolationFactor = 1 - ramp;
            inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return (float) attention;
    }

    private static double correctionDim(double rotations, int dim, double base, int maxPos) {
        return dim * Math.log(maxPos / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    /** Makes the tables cover positions {@code [0, n)}. */
    public synchronized void ensure(int n) {
        if (n <= positions) return;
        int cap = Math.max(n, Math.min(positions * 2, Integer.MAX_VALUE / invFreq.length));
        int half = invFreq.length;
        float[] c = java.util.Arrays.copyOf(cos, cap * half);
        float[] s = java.util.Arrays.copyOf(sin, cap * half);
        for (int p = positions; p < cap; p++)
            for (int i = 0; i < half; i++) {
                c[p * half + i] = cos(p, i);
                s[p * half + i] = sin(p, i);
            }
        cos = c;
        sin = s;
        positions = cap;
    }

    /**
     * Makes {@link #cosTiles()} and {@link #sinTiles()} cover every tile holding a position below {@code n} (and the
     * plain tables cover {@code [0, n)}). Separate from {@link #ensure}, which covers only what is asked: the tables
     * here grow by whole tiles. Cheap when they already cover {@code n} (the attention kernels call it per call).
     */
    void ensureTiles(int n) {
        if (n > tilePositions) growTiles(n);
    }

    private synchronized void growTiles(int n) {
        ensure(n);
        int half = invFreq.length, tilesBefore = cosTiles.length / (half * TILE), tiles = (n + TILE - 1) / TILE;
        if (tiles <= tilesBefore) return;
        tiles = Math.max(tiles, Math.min(2 * tilesBefore, Integer.MAX_VALUE / (half * TILE)));
        float[] ct = java.util.Arrays.copyOf(cosTiles, tiles * half * TILE);
        float[] st = java.util.Arrays.copyOf(sinTiles, tiles * half * TILE);
        for (int p = tilesBefore * TILE; p < tiles * TILE; p++)
            for (int i = 0; i < half; i++) {
                int o = (p / TILE * half + i) * TILE + p % TILE;
                ct[o] = cos(p, i);
                st[o] = sin(p, i);
            }
        cosTiles = ct;
        sinTiles = st;
        tilePositions = tiles * TILE;
    }

    /** The angle of position {@code p} and frequency {@code i}, as cos and sin entries hold them. */
    private float angle(int p, int i) {
        // float32 product, as torch computes freqs; with ratio 1 the double quotient and product are exact, so both
        // branches give the same float
        return positionRatio == 1.0 ? (float) p * invFreq[i] : (float) ((double) p / positionRatio * (double) invFreq[i]);
    }

    private float cos(int p, int i) {
        return (float) Math.cos(angle(p, i)) * attentionFactor;
    }

    private float sin(int p, int i) {
        return (float) Math.sin(angle(p, i)) * attentionFactor;
    }

    /** cos table: entry {@code [pos * headDim/2 + i]}. */
    public float[] cos() { return cos; }

    /** sin table, same layout as {@link #cos()}. */
    public float[] sin() { return sin; }

    /**
     * The cos table transposed per key tile of {@link #TILE} positions: entry {@code [(tile · headDim/2 + i) · TILE + j]}
     * is {@code cos()[(tile · TILE + j) · headDim/2 + i]}, so one frequency's entries for a tile's positions are
     * contiguous. Covers every tile that holds a position below {@link #ensureTiles}'s bound.
     */
    float[] cosTiles() { return cosTiles; }

    /** The sin table in the layout of {@link #cosTiles()}. */
    float[] sinTiles() { return sinTiles; }

    public int headDim() { return headDim; }

    public float[] invFreq() { return invFreq.clone(); }

    public float attentionFactor() { return attentionFactor; }

    /** Positions are divided by this before rotating (1 for ordinary RoPE). */
    public double positionRatio() { return positionRatio; }
}
