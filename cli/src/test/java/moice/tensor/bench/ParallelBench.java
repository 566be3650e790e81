package moice.tensor.bench;

import java.util.concurrent.TimeUnit;
import moice.tensor.Parallel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of one {@link Parallel#forRange} hand-off with a trivial body (decode makes ~300 such calls per token).
 * Run as {@link GemmBench} says, with the pattern {@code moice.tensor.bench.ParallelBench}.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
@State(Scope.Thread)
public class ParallelBench {
    private final float[] data = new float[576];

    @Benchmark
    public float forRange() {
        Parallel.forRange(data.length, (lo, hi) -> {
            for (int i = lo; i < hi; i++) data[i] += 1f;
        });
        return data[0];
    }
}
