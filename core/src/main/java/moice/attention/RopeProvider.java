package moice.attention;

/**
 * The {@link Rope} of one base for a model's scaling, with its cos/sin table covering the sequence. Only dynamic NTK
 * scaling depends on the sequence length; every other type builds one table and extends it.
 */
public final class RopeProvider {
    private final double theta;
    private final int headDim;
    private final RopeScaling scaling;
    private final int maxPositions;
    private final double positionRatio;
    private Rope rope;
    private int builtFor = -1;

    public RopeProvider(double theta, int headDim, RopeScaling scaling, int maxPositions) {
        this(theta, headDim, scaling, maxPositions, 1.0);
    }

    /**
     * As {@link #RopeProvider(double, int, RopeScaling, int)}, with every position {@code p} rotated as the
     * fractional position {@code p / positionRatio} (see {@link Rope#withPositionRatio}); the inverse frequencies,
     * including dynamic NTK's dependence on the sequence length, are those of the plain rope.
     */
    public RopeProvider(double theta, int headDim, RopeScaling scaling, int maxPositions, double positionRatio) {
        if (!(positionRatio > 0)) throw new IllegalArgumentException("position ratio " + positionRatio);
        this.theta = theta;
        this.headDim = headDim;
        this.scaling = scaling;
        this.maxPositions = maxPositions;
        this.positionRatio = positionRatio;
    }

    /** The rope for a sequence of {@code length} positions, its table ready for positions {@code [0, length)}. */
    public synchronized Rope forLength(int length) {
        boolean dynamic = scaling.type().equals("dynamic");
        int original = scaling.originalMaxPositions() > 0 ? scaling.originalMaxPositions() : maxPositions;
        int key = dynamic && length > original ? length : 0;
        if (rope == null || key != builtFor) {
            rope = Rope.of(theta, headDim, scaling, maxPositions, Math.max(length, 1));
            if (positionRatio != 1.0) rope = rope.withPositionRatio(positionRatio);
            builtFor = key;
        }
        rope.ensure(length);
        return rope;
    }

    public double theta() { return theta; }

    public double positionRatio() { return positionRatio; }
}
