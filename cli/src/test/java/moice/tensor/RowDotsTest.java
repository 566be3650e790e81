package moice.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link RowDot#dotRowGroup} (several rows with one vector, as single-token decode runs it) and
 * {@link Matrix#matmulEach} (several matrices in one parallel job): each result bit for bit the one-row, one-matrix
 * value. And {@link RowDotTiles} (many rows with many vectors, dequantised once per row: batched decode's projections)
 * and {@link Matrix#matmulRowwise} on top of it: every format, 1..9 rows at an offset, 1..17 vectors (tails of every
 * register tile), each result bit for bit {@code dotRow}'s, nothing written outside its place. How close {@link RowDot#dotRow} itself is to the scalar twin is {@code QuantGemmTest}'s check (T = 1).
 */
class RowDotsTest {
    @Test
    void rowGroupsEqualOneByOne() {
        SplittableRandom rnd = new SplittableRandom(5);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : QuantTestData.TYPES)
                for (int cols : QuantGemmTest.columnCounts(type))
                    for (int n = 0; n <= 9; n++) {
                        Matrix w = QuantTestData.matrix(type, n + 2, cols, rnd, arena);
                        RowDot dot = (RowDot) type.format();
                        float[] x = new float[3 + cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        float[] out = new float[2 + n + 2];
                        Arrays.fill(out, 42f);
                        // starting at row 1: the group's rows sit at an offset inside the tensor
                        dot.dotRowGroup(w.data(), w.rowBytes(), w.rowBytes(), n, cols, x, 3, out, 2);
                        for (int i = 0; i < n; i++)
                            assertEquals(Float.floatToRawIntBits(dot.dotRow(w.data(), (1 + i) * w.rowBytes(), cols, x, 3)),
                                    Float.floatToRawIntBits(out[2 + i]), type + " cols=" + cols + " n=" + n + " i=" + i);
                        assertEquals(42f, out[0]);
                        assertEquals(42f, out[1]);
                        assertEquals(42f, out[2 + n], type + " n=" + n + " wrote past the group");
                    }
        }
    }

    @Test
    void matmulEachEqualsOneMatmulPerMatrix() {
        SplittableRandom rnd = new SplittableRandom(6);
        try (Arena arena = Arena.ofShared()) {
            int cols = 576;
            // q/k/v-like widths of mixed formats, then one without a row dot (the one-by-one fallback)
            Matrix[][] sets = {
                {QuantTestData.matrix(DType.Q4_1, 576, cols, rnd, arena), QuantTestData.matrix(DType.Q4_1, 192, cols, rnd, arena),
                 QuantTestData.matrix(DType.Q8_0, 193, cols, rnd, arena)},
                {QuantTestData.matrix(DType.Q8_0, 1537, cols, rnd, arena), QuantTestData.matrix(DType.Q4_K, 7, 768, rnd, arena)},
                {QuantTestData.matrix(DType.Q4_1, 5, cols, rnd, arena), TestWeights.random(DType.F32, 9, cols, rnd, arena)},
            };
            for (Matrix[] ws : sets) {
                if (ws[1].cols() != ws[0].cols()) {
                    Matrix[] bad = ws;
                    float[] x = new float[bad[1].cols()];
                    assertThrows(IllegalArgumentException.class, () -> Matrix.matmulEach(bad, x, 0,
                            new float[][] {new float[bad[0].rows()], new float[bad[1].rows()]}));
                    continue;
                }
                float[] x = new float[1 + cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                float[][] outs = new float[ws.length][];
                for (int i = 0; i < ws.length; i++) outs[i] = new float[ws[i].rows() + 1];
                Matrix.matmulEach(ws, x, 1, outs);
                for (int i = 0; i < ws.length; i++) {
                    float[] one = new float[ws[i].rows() + 1];
                    ws[i].matmul(x, 1, 1, one, 0, ws[i].rows());
                    for (int r = 0; r < ws[i].rows(); r++)
                        assertEquals(Float.floatToRawIntBits(one[r]), Float.floatToRawIntBits(outs[i][r]), ws[i] + " row " + r);
                    assertEquals(0f, outs[i][ws[i].rows()], ws[i] + ": wrote past its rows");
                }
            }
        }
    }

    @Test
    void rowTilesEqualDotRowBitForBit() {
        SplittableRandom rnd = new SplittableRandom(7);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : QuantTestData.TYPES) {
                RowDot dot = (RowDot) type.format();
                // 256-bit vectors or wider: every quantised format has a grouping the tiles reproduce (no silent skip)
                assertEquals(QuantBlocks.VECTOR, RowDotTiles.supports(dot), type + " on this CPU");
                if (!RowDotTiles.supports(dot)) continue;
                for (int cols : QuantGemmTest.columnCounts(type))
                    for (int n = 1; n <= 9; n++) {
                        Matrix w = QuantTestData.matrix(type, n + 2, cols, rnd, arena);
                        for (int T = 1; T <= 17; T++) {
                            int xOff = 3, xStride = cols + 5, outOff = 2, outStride = n + 3;
                            float[] x = new float[xOff + T * xStride];
                            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                            float[] out = new float[outOff + T * outStride];
                            Arrays.fill(out, 42f);
                            // rows [1, 1 + n) of the tensor: the tile starts at an offset inside it
                            RowDotTiles.rows(dot, w.data(), w.rowBytes(), 1, 1 + n, cols, x, xOff, xStride, T, out,
                                    outOff - 1, outStride);
                            for (int i = 0; i < out.length; i++) {
                                int t = (i - outOff) / outStride, r = (i - outOff) % outStride;
                                String where = type + " cols=" + cols + " n=" + n + " T=" + T + " at " + i;
                                if (i < outOff || r >= n) {
                                    assertEquals(42f, out[i], where + ": written outside the result");
                                    continue;
                                }
                                assertEquals(Float.floatToRawIntBits(
                                        dot.dotRow(w.data(), (1 + r) * w.rowBytes(), cols, x, xOff + t * xStride)),
                                        Float.floatToRawIntBits(out[i]), where + " (row " + r + ", vector " + t + ")");
                            }
                        }
                    }
            }
        }
    }

    @Test
    void matmulRowwiseEqualsOneTokenMatmulPerRow() {
        SplittableRandom rnd = new SplittableRandom(8);
        try (Arena arena = Arena.ofShared()) {
            java.util.List<Matrix> ws = new java.util.ArrayList<>();
            for (DType type : QuantTestData.TYPES)
                ws.add(QuantTestData.matrix(type, 203, QuantGemmTest.columnCounts(type)[1], rnd, arena)); // split over threads
            ws.add(TestWeights.random(DType.F32, 37, 96, rnd, arena)); // no row dot: one matmul per token
            for (Matrix w : ws)
                for (int T : new int[] {1, 2, 3, 4, 5, 16, 17}) {
                    int rows = w.rows(), cols = w.cols();
                    float[] x = new float[T * cols];
                    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                    float[] out = new float[T * rows];
                    w.matmulRowwise(x, T, out);
                    float[] one = new float[rows];
                    for (int t = 0; t < T; t++) {
                        w.matmul(x, t * cols, 1, one, 0, rows);
                        for (int r = 0; r < rows; r++)
                            assertEquals(Float.floatToRawIntBits(one[r]), Float.floatToRawIntBits(out[t * rows + r]),
                                    w + " T=" + T + " token " + t + " row " + r);
                    }
                }
        }
    }
}
