package moice.attention.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import moice.attention.AttentionShape;
import moice.attention.CausalAttention;
import moice.attention.Rope;
import moice.attention.RopeLayout;
import moice.attention.RopeScaling;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One layer of vanilla attention on the SmolLM2 shape (9 query heads, 3 KV heads, head 64, interleaved RoPE): every
 * KV head's {@link CausalAttention#run} for {@code tokens} new tokens after {@code context} cached ones, one thread,
 * keys and values small enough to stay in cache (one layer's). {@code tokens = 1} is a decode step, 16 a prefill
 * query tile. Run as {@code moice.tensor.bench.GemmBench} says, with the pattern
 * {@code moice.attention.bench.AttentionBench}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:+UseParallelGC"})
@State(Scope.Thread)
public class AttentionBench {
    @Param({"144", "2048"})
    int context;

    @Param({"1", "16"})
    int tokens;

    private final AttentionShape shape = new AttentionShape(9, 3, 64, 0, RopeLayout.INTERLEAVED);
    private float[] q, keys, values, out;
    private Rope rope;
    private CausalAttention.Scratch scratch;

    @Setup
    public void setUp() {
        int end = context + tokens;
        Random rnd = new Random(1);
        q = gaussian(rnd, tokens * shape.qDim(), 4);
        keys = gaussian(rnd, end * shape.kvDim(), 4);
        values = gaussian(rnd, end * shape.kvDim(), 1);
        out = new float[tokens * shape.qDim()];
        rope = Rope.of(100000, 64, RopeScaling.NONE, 8192, end);
        rope.ensure(end);
        scratch = new CausalAttention.Scratch(64);
    }

    @Benchmark
    public float layer() {
        for (int g = 0; g < shape.numKvHeads(); g++)
            CausalAttention.run(shape, q, context, 0, tokens, g, keys, values, rope, 0.125f, out, scratch);
        return out[0];
    }

    private static float[] gaussian(Random rnd, int n, float sd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian() * sd;
        return a;
    }
}
