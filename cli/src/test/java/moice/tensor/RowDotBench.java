package moice.tensor;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The single-token row dots of the block-quantised decode ({@link RowDot}) on one thread, no pool: every row of a
 * SmolLM2-135M-shaped matrix dotted with one vector, either row by row ({@code row}: {@link RowDot#dotRow}, what decode
 * did before the row groups) or four rows at a time ({@code group}: {@link RowDot#dotRowGroup}). {@code 1536x576} (an
 * MLP projection, ~0.5–0.9 MiB) stays in L2/L3, so it measures the kernel's arithmetic; {@code 49152x576} (the LM
 * head, 18–30 MiB) streams from L3 and memory. The 16-lane kernels run where the JVM picks 512-bit vectors; add
 * {@code -jvmArgsAppend -XX:MaxVectorSize=32} for the 8-lane ones on the same CPU.
 *
 * <p>Run as {@code moice.tensor.bench.GemmBench} says, with the pattern {@code moice.tensor.RowDotBench}. On a shared
 * machine quote the minimum ({@code p0.00}): noise only adds time.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC", "-Xmx1g"})
@State(Scope.Thread)
public class RowDotBench {
    @Param({"1536x576", "49152x576"})
    public String shape;

    @Param({"Q4_1", "Q8_0"})
    public String type;

    @Param({"row", "group"})
    public String mode;

    private Arena arena;
    private Matrix w;
    private RowDot dot;
    private float[] x, out;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = shape.split("x");
        arena = Arena.ofShared();
        w = QuantTestData.matrix(DType.valueOf(type), Integer.parseInt(s[0]), Integer.parseInt(s[1]),
                new SplittableRandom(1), arena);
        dot = (RowDot) w.type().format();
        x = new float[w.cols()];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        out = new float[w.rows()];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float rows() {
        int rows = w.rows(), cols = w.cols();
        long rowBytes = w.rowBytes();
        if (mode.equals("group")) {
            dot.dotRowGroup(w.data(), 0, rowBytes, rows, cols, x, 0, out, 0);
        } else {
            for (int r = 0; r < rows; r++) out[r] = dot.dotRow(w.data(), r * rowBytes, cols, x, 0);
        }
        return out[0];
    }
}
