package moice.tensor;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Timing harness (not a test): single-token GEMV in GB/s of weight bytes and 512-token GEMM in GFLOP/s, per format, on
 * the SmolLM2-135M shapes. Run by hand, e.g.
 * {@code java -Dmoice.threads=1 --add-modules jdk.incubator.vector -cp target/classes:target/test-classes
 * moice.tensor.QuantTiming [TYPES,..] [seconds] [T,..]}, or {@code ... QuantTiming kernel [rows] [reps]} for the
 * per-weight cost of the fused dot against dequantise-then-dot on one thread. Each figure is the best of several
 * timed runs; with one thread the CPU time of the calling thread is reported too, the steadier figure on a shared
 * machine.
 */
public final class QuantTiming {
    private QuantTiming() {}

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("kernel")) {
            kernels(args.length > 1 ? Integer.parseInt(args[1]) : 256, args.length > 2 ? Integer.parseInt(args[2]) : 200);
            return;
        }
        DType[] types = args.length > 0 ? Arrays.stream(args[0].split(",")).map(DType::valueOf).toArray(DType[]::new)
                : new DType[] {DType.F32, DType.F16, DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q4_K, DType.Q5_K, DType.Q6_K};
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 0.5;
        int[] tokens = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {1, 512};
        int[][] shapes = {{1536, 576}, {576, 1536}, {49152, 576}};
        SplittableRandom rnd = new SplittableRandom(1);
        System.out.printf(Locale.ROOT, "threads %d, vector %s%n", Parallel.threads(), QuantBlocks.VECTOR);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : types)
                for (int[] shape : shapes) {
                    // K-quant rows are whole super-blocks: 576 columns become 768
                    int[] s = {shape[0], (shape[1] + type.blockSize - 1) / type.blockSize * type.blockSize};
                    Matrix w = type.blockSize == 1 ? TestWeights.random(type, s[0], s[1], rnd, arena)
                            : QuantTestData.matrix(type, s[0], s[1], rnd, arena);
                    long bytes = w.data().byteSize();
                    for (int T : tokens) {
                        if (T > 64 && s[0] > 4096) continue;
                        float[] x = new float[T * s[1]], out = new float[T * s[0]];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        double[] best = time(w, x, T, out, seconds);
                        String cpu = Parallel.threads() == 1 ? "" : " (CPU time n/a: several threads)";
                        if (T <= 4)
                            System.out.printf(Locale.ROOT, "%-5s [%5d x %4d] T=%-3d wall %8.1f us %6.2f GB/s | CPU %8.1f us %6.2f GB/s %6.2f Gweights/s%s%n",
                                    type, s[0], s[1], T, best[0] * 1e6, bytes / best[0] / 1e9, best[1] * 1e6,
                                    bytes / best[1] / 1e9, (double) s[0] * s[1] / best[1] / 1e9, cpu);
                        else
                            System.out.printf(Locale.ROOT, "%-5s [%5d x %4d] T=%-3d wall %8.1f us %6.2f GFLOP/s | CPU %8.1f us %6.2f GFLOP/s%s%n",
                                    type, s[0], s[1], T, best[0] * 1e6, 2.0 * s[0] * s[1] * T / best[0] / 1e9,
                                    best[1] * 1e6, 2.0 * s[0] * s[1] * T / best[1] / 1e9, cpu);
                    }
                }
        }
    }

    /**
     * Best per-call wall time and best per-call CPU time of the calling thread (all the work when
     * {@code -Dmoice.threads=1}; on a shared machine the steadier figure) over 10 rounds, after a warm-up.
     */
    private static double[] time(Matrix w, float[] x, int T, float[] out, double seconds) {
        var bean = java.lang.management.ManagementFactory.getThreadMXBean();
        long t0 = System.nanoTime();
        int calls = 0;
        while (System.nanoTime() - t0 < seconds * 1e9) {
            w.matmul(x, T, out);
            calls++;
        }
        int per = Math.max(1, calls / 10);
        double bestWall = Double.MAX_VALUE, bestCpu = Double.MAX_VALUE;
        for (int round = 0; round < 10; round++) {
            long start = System.nanoTime(), cpu = bean.getCurrentThreadCpuTime();
            for (int i = 0; i < per; i++) w.matmul(x, T, out);
            bestWall = Math.min(bestWall, (System.nanoTime() - start) / 1e9 / per);
            bestCpu = Math.min(bestCpu, (bean.getCurrentThreadCpuTime() - cpu) / 1e9 / per);
        }
        return new double[] {bestWall, bestCpu};
    }

    /**
     * One thread, thread CPU time (robust to a loaded machine): per weight, the fused {@link RowDot} against
     * dequantise-to-buffer-then-dot, on a {@code rows×576} matrix small enough to stay in L2 (compute cost only).
     */
    private static void kernels(int rows, int reps) {
        var bean = java.lang.management.ManagementFactory.getThreadMXBean();
        int cols = 576;
        SplittableRandom rnd = new SplittableRandom(2);
        float[] x = new float[cols], buf = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.Q8_0, DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q4_K, DType.Q5_K, DType.Q6_K}) {
                Matrix w = QuantTestData.matrix(type, rows, type.blockSize == 32 ? cols : 512, rnd, arena);
                int c = w.cols();
                RowDot dot = (RowDot) type.format();
                double bestFused = Double.MAX_VALUE, bestBuffered = Double.MAX_VALUE, bestDequant = Double.MAX_VALUE;
                float sink = 0;
                for (int round = 0; round < 3 * reps; round++) {
                    long t0 = bean.getCurrentThreadCpuTime();
                    for (int r = 0; r < rows; r++) sink += dot.dotRow(w.data(), r * w.rowBytes(), c, x, 0);
                    long t1 = bean.getCurrentThreadCpuTime();
                    for (int r = 0; r < rows; r++) {
                        type.format().dequantizeRow(w.data(), r * w.rowBytes(), c, buf, 0);
                        sink += VectorKernels.dot(buf, 0, x, 0, c);
                    }
                    long t2 = bean.getCurrentThreadCpuTime();
                    for (int r = 0; r < rows; r++) type.format().dequantizeRow(w.data(), r * w.rowBytes(), c, buf, 0);
                    long t3 = bean.getCurrentThreadCpuTime();
                    sink += buf[0];
                    if (round < reps) continue;
                    double n = (double) rows * c;
                    bestFused = Math.min(bestFused, (t1 - t0) / n);
                    bestBuffered = Math.min(bestBuffered, (t2 - t1) / n);
                    bestDequant = Math.min(bestDequant, (t3 - t2) / n);
                }
                System.out.printf(Locale.ROOT, "%-5s ns/weight: fused dot %.3f, dequantise+dot %.3f, dequantise only %.3f  (%s)%n",
                        type, bestFused, bestBuffered, bestDequant, sink == 1e30f ? "" : "ok");
            }
        }
    }

}
