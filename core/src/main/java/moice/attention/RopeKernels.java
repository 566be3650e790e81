package moice.attention;

import moice.tensor.ScalarKernels;
import moice.tensor.VectorKernels;

/** Rotations of head vectors by a {@link Rope} table (float32, as HF applies them). */
final class RopeKernels {
    private RopeKernels() {}

    /** Rotates {@code x[xo .. xo+d)} in place for position {@code pos} (SIMD kernel). */
    static void rotate(float[] x, int xo, int pos, Rope rope, RopeLayout layout) {
        int co = pos * (rope.headDim() / 2);
        if (layout == RopeLayout.HALF_SPLIT) VectorKernels.rotateHalf(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
        else VectorKernels.rotateInterleaved(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
    }

    /** Plain-loop twin of {@link #rotate}, for the reference attention. */
    static void rotateScalar(float[] x, int xo, int pos, Rope rope, RopeLayout layout) {
        int co = pos * (rope.headDim() / 2);
        if (layout == RopeLayout.HALF_SPLIT) ScalarKernels.rotateHalf(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
        else ScalarKernels.rotateInterleaved(x, xo, rope.cos(), rope.sin(), co, rope.headDim());
    }

    /**
     * Writes the rotation of key {@code k[ko .. ko+d)} at {@code pos} transposed into column {@code col} of
     * {@code kT} ({@code [d, stride]}), so that scores against a tile of keys vectorise over keys.
     */
    static void rotateInto(float[] k, int ko, int pos, Rope rope, RopeLayout layout, float[] kT, int stride, int col) {
        rotateInto(k, ko, pos, rope, layout, kT, stride, col, 0);
    }

    /** As above, into the {@code [d, stride]} block of {@code kT} that starts at {@code kto}. */
    static void rotateInto(float[] k, int ko, int pos, Rope rope, RopeLayout layout, float[] kT, int stride, int col,
                           int kto) {
        col += kto;
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
