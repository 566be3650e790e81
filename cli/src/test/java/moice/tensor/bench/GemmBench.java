package moice.tensor.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import moice.tensor.DType;
import moice.tensor.Matrix;
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
 * Time of one {@link Matrix#matmul} on SmolLM2-135M shapes, sampled per call. Prefill rate is
 * {@code 2·rows·cols·T / time} FLOP/s; decode rate is {@code rows·cols·bytesPerValue / time} weight bytes/s.
 * The sample distribution's minimum ({@code p0.00}) is the number to quote on a machine shared with other work: noise
 * from other processes only ever adds time.
 *
 * <p>Run (from the repository root):
 * <pre>
 * mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/test.cp -Dmdep.includeScope=test
 * java -cp target/test-classes:target/classes:$(cat target/test.cp) org.openjdk.jmh.Main 'moice.tensor.bench' \
 *      -f 1 -wi 3 -w 2s -i 5 -r 2s [-p type=F32,F16] [-jvmArgsAppend -Dmoice.threads=1]
 * </pre>
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC", "-Xmx4g"})
@State(Scope.Thread)
public class GemmBench {
    /** {@code rows x cols x T}: SmolLM2-135M up/gate projection, down projection (prefill of 512 tokens), lm_head decode. */
    @Param({"1536x576x512", "576x1536x512", "49152x576x1"})
    public String shape;

    @Param({"F32", "F16", "BF16"})
    public String type;

    private Arena arena;
    private Matrix w;
    private float[] x, out;
    private int T;

    @Setup(Level.Trial)
    public void setUp() {
        String[] s = shape.split("x");
        int rows = Integer.parseInt(s[0]), cols = Integer.parseInt(s[1]);
        T = Integer.parseInt(s[2]);
        DType dtype = DType.valueOf(type);
        arena = Arena.ofShared();
        w = randomMatrix(dtype, rows, cols, arena, new SplittableRandom(1));
        x = new float[T * cols];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        out = new float[T * rows];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float matmul() {
        w.matmul(x, T, out);
        return out[0];
    }

    static Matrix randomMatrix(DType type, int rows, int cols, Arena arena, SplittableRandom rnd) {
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        MemorySegment data = arena.allocate(rows * type.bytesFor(cols), 64);
        for (long i = 0; i < (long) rows * cols; i++) {
            float v = (float) rnd.nextGaussian() * 0.05f;
            switch (type) {
                case F32 -> data.set(f32, 4 * i, v);
                case F16 -> data.set(i16, 2 * i, Float.floatToFloat16(v));
                case BF16 -> data.set(i16, 2 * i, (short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        return new Matrix("bench." + type, type, rows, cols, data);
    }
}
