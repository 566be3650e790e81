package moice.attention;

/** Rotations of head vectors by a {@link Rope} table (float32, as HF applies them). */
final class RopeKernels {
    private RopeKernels() {}

    /** Rotates {@code x[xo .. xo+d)} in place for position {@code pos}. */
    static void rotate(float[] x, int xo, int pos, Rope rope, RopeLayout layout) {
        int half = rope.headDim() / 2;
        float[] cos = rope.cos(), sin = rope.sin();
        int co = pos * half;
        if (layout == RopeLayout.HALF_SPLIT) {
            for (int i = 0; i < half; i++) {
                float x1 = x[xo + i], x2 = x[xo + half + i], c = cos[co + i], s = sin[co + i];
                x[xo + i] = x1 * c - x2 * s;
                x[xo + half + i] = x2 * c + x1 * s;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float x1 = x[xo + 2 * i], x2 = x[xo + 2 * i + 1], c = cos[co + i], s = sin[co + i];
                x[xo + 2 * i] = x1 * c - x2 * s;
                x[xo + 2 * i + 1] = x2 * c + x1 * s;
            }
        }
    }

    /**
     * Writes the rotation of key {@code k[ko .. ko+d)} at {@code pos} transposed into column {@code col} of
     * {@code kT} ({@code [d, stride]}), so that scores against a tile of keys vectorise over keys.
     */
    static void rotateInto(float[] k, int ko, int pos, Rope rope, RopeLayout layout, float[] kT, int stride, int col) {
        int half = rope.headDim() / 2;
        float[] cos = rope.cos(), sin = rope.sin();
        int co = pos * half;
        if (layout == RopeLayout.HALF_SPLIT) {
            for (int i = 0; i < half; i++) {
                float x1 = k[ko + i], x2 = k[ko + half + i], c = cos[co + i], s = sin[co + i];
                kT[i * stride + col] = x1 * c - x2 * s;
                kT[(half + i) * stride + col] = x2 * c + x1 * s;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float x1 = k[ko + 2 * i], x2 = k[ko + 2 * i + 1], c = cos[co + i], s = sin[co + i];
                kT[2 * i * stride + col] = x1 * c - x2 * s;
                kT[(2 * i + 1) * stride + col] = x2 * c + x1 * s;
            }
        }
    }
}
