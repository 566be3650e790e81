package moice.tensor;

import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2F;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;
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
 * <p>{@code int8} (Q4_1 only, 512-bit vectors only) is a prototype of llama.cpp's decode arithmetic, kept here to
 * measure whether it would pay with the Vector API: the activations quantised to int8 per block of 32 (scale
 * {@code dx}, block sum {@code sx}, prepared once per vector, outside the timing), nibbles times int8 as 16-bit
 * products, summed in 16 bits, widened to float once per block and scaled by {@code d·dx}, plus {@code m·sx}. The
 * Vector API has no byte dot product ({@code vpdpbusd}), so this is what remains of it. {@code lut} (Q4_1, 512-bit) is
 * another prototype: the 16 possible weights of a block, {@code d·j + m}, computed once as a vector and looked up per
 * nibble ({@code selectFrom}) instead of converting every nibble to float.
 *
 * <p>{@link Batched} ({@code RowDotBench.Batched}): batched decode, every row of the matrix dotted with B vectors
 * ({@code batch} = 4, 16), as {@link Matrix#matmulRowwise} does it on one thread: {@code dotRow} (one {@code dotRow}
 * per row and vector, a block dequantised once per vector: what batched decode does without vectors; the
 * {@code dotRows} numbers in docs/benchmarks.md are of Q4_1's three-vector kernel, removed after the tiles replaced it,
 * at bebe349) or {@code tiles} ({@link RowDotTiles}: each row dequantised once into a buffer, then a register
 * tile of rows × vectors). Divide the time by rows·cols·B for the cost per weight and vector.
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

    /** Any block-quantised type; the k-quants (Q4_K, Q5_K, Q6_K) need {@code -p shape=576x1536} (256-value blocks). */
    @Param({"Q4_1", "Q5_0", "Q8_0"})
    public String type;

    @Param({"row", "group", "int8", "lut"})
    public String mode;

    private Arena arena;
    private Matrix w;
    private RowDot dot;
    private float[] x, out;
    /** The int8 prototype's activations: quantised values as shorts, per-block scale and scaled sum. */
    private short[] xq;
    private float[] xd, xs;

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
        int blocks = x.length / 32;
        xq = new short[x.length];
        xd = new float[blocks];
        xs = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
            float d = amax / 127, id = d == 0 ? 0 : 1 / d;
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += xq[32 * b + j] = (short) Math.round(x[32 * b + j] * id);
            xd[b] = d;
            xs[b] = d * sum;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float rows() {
        int rows = w.rows(), cols = w.cols();
        long rowBytes = w.rowBytes();
        if (mode.equals("lut")) {
            for (int r = 0; r + 4 <= rows; r += 4) lutGroup(w.data(), r * rowBytes, rowBytes, cols, r);
        } else if (mode.equals("int8")) {
            if (!type.equals("Q4_1") || !QuantBlocks.WIDE) throw new IllegalStateException("int8: Q4_1 on 512-bit vectors only");
            for (int r = 0; r + 4 <= rows; r += 4) int8Group(w.data(), r * rowBytes, rowBytes, cols, r);
        } else if (mode.equals("group")) {
            dot.dotRowGroup(w.data(), 0, rowBytes, rows, cols, x, 0, out, 0);
        } else {
            for (int r = 0; r < rows; r++) out[r] = dot.dotRow(w.data(), r * rowBytes, cols, x, 0);
        }
        return out[0];
    }

    private static final VectorSpecies<Short> SS = ShortVector.SPECIES_256;

    /** Four Q4_1 rows against the int8 activations (see the class comment); one accumulator per row. */
    private void int8Group(MemorySegment data, long offset, long rowBytes, int cols, int r0) {
        MemorySegment g = data.asSlice(offset, 4 * rowBytes);
        long r1 = rowBytes, r2 = 2 * rowBytes, r3 = 3 * rowBytes;
        FloatVector a0 = FloatVector.zero(QuantBlocks.FW), a1 = a0, a2 = a0, a3 = a0;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        for (int b = 0; b < cols / 32; b++) {
            long block = 20L * b;
            var xl = ShortVector.fromArray(SS, xq, 32 * b);
            var xh = ShortVector.fromArray(SS, xq, 32 * b + 16);
            float dx = xd[b], sx = xs[b];
            int dm = g.get(QuantBlocks.LE_INT, block);
            var q = (ShortVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, block + 4, QuantBlocks.LE).convertShape(B2S, SS, 0);
            var p = q.and((short) 0xF).mul(xl).add(q.lanewise(LSHR, 4).and((short) 0xF).mul(xh));
            a0 = ((FloatVector) p.convertShape(S2F, QuantBlocks.FW, 0)).fma(FloatVector.broadcast(QuantBlocks.FW, Float.float16ToFloat((short) dm) * dx), a0);
            m0 += Float.float16ToFloat((short) (dm >>> 16)) * sx;
            dm = g.get(QuantBlocks.LE_INT, r1 + block);
            q = (ShortVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, r1 + block + 4, QuantBlocks.LE).convertShape(B2S, SS, 0);
            p = q.and((short) 0xF).mul(xl).add(q.lanewise(LSHR, 4).and((short) 0xF).mul(xh));
            a1 = ((FloatVector) p.convertShape(S2F, QuantBlocks.FW, 0)).fma(FloatVector.broadcast(QuantBlocks.FW, Float.float16ToFloat((short) dm) * dx), a1);
            m1 += Float.float16ToFloat((short) (dm >>> 16)) * sx;
            dm = g.get(QuantBlocks.LE_INT, r2 + block);
            q = (ShortVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, r2 + block + 4, QuantBlocks.LE).convertShape(B2S, SS, 0);
            p = q.and((short) 0xF).mul(xl).add(q.lanewise(LSHR, 4).and((short) 0xF).mul(xh));
            a2 = ((FloatVector) p.convertShape(S2F, QuantBlocks.FW, 0)).fma(FloatVector.broadcast(QuantBlocks.FW, Float.float16ToFloat((short) dm) * dx), a2);
            m2 += Float.float16ToFloat((short) (dm >>> 16)) * sx;
            dm = g.get(QuantBlocks.LE_INT, r3 + block);
            q = (ShortVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, r3 + block + 4, QuantBlocks.LE).convertShape(B2S, SS, 0);
            p = q.and((short) 0xF).mul(xl).add(q.lanewise(LSHR, 4).and((short) 0xF).mul(xh));
            a3 = ((FloatVector) p.convertShape(S2F, QuantBlocks.FW, 0)).fma(FloatVector.broadcast(QuantBlocks.FW, Float.float16ToFloat((short) dm) * dx), a3);
            m3 += Float.float16ToFloat((short) (dm >>> 16)) * sx;
        }
        out[r0] = a0.reduceLanes(jdk.incubator.vector.VectorOperators.ADD) + m0;
        out[r0 + 1] = a1.reduceLanes(jdk.incubator.vector.VectorOperators.ADD) + m1;
        out[r0 + 2] = a2.reduceLanes(jdk.incubator.vector.VectorOperators.ADD) + m2;
        out[r0 + 3] = a3.reduceLanes(jdk.incubator.vector.VectorOperators.ADD) + m3;
    }

    private static final FloatVector IOTA = FloatVector.zero(QuantBlocks.FW).addIndex(1);

    /** Four Q4_1 rows, weights looked up in the block's 16 values {@code d·j + m} instead of converted per nibble. */
    private void lutGroup(MemorySegment data, long offset, long rowBytes, int cols, int r0) {
        MemorySegment g = data.asSlice(offset, 4 * rowBytes);
        long r1 = rowBytes, r2 = 2 * rowBytes, r3 = 3 * rowBytes;
        FloatVector l0 = FloatVector.zero(QuantBlocks.FW), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
        for (int b = 0; b < cols / 32; b++) {
            long block = 20L * b;
            var xl = FloatVector.fromArray(QuantBlocks.FW, x, 32 * b);
            var xh = FloatVector.fromArray(QuantBlocks.FW, x, 32 * b + 16);
            int dm = g.get(QuantBlocks.LE_INT, block);
            var t = IOTA.fma(Float.float16ToFloat((short) dm), Float.float16ToFloat((short) (dm >>> 16))).reinterpretAsInts();
            var q = (jdk.incubator.vector.IntVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, block + 4, QuantBlocks.LE).convertShape(jdk.incubator.vector.VectorOperators.B2I, QuantBlocks.IW, 0);
            l0 = q.and(0xF).selectFrom(t).reinterpretAsFloats().fma(xl, l0);
            h0 = q.lanewise(LSHR, 4).and(0xF).selectFrom(t).reinterpretAsFloats().fma(xh, h0);
            dm = g.get(QuantBlocks.LE_INT, r1 + block);
            t = IOTA.fma(Float.float16ToFloat((short) dm), Float.float16ToFloat((short) (dm >>> 16))).reinterpretAsInts();
            q = (jdk.incubator.vector.IntVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, r1 + block + 4, QuantBlocks.LE).convertShape(jdk.incubator.vector.VectorOperators.B2I, QuantBlocks.IW, 0);
            l1 = q.and(0xF).selectFrom(t).reinterpretAsFloats().fma(xl, l1);
            h1 = q.lanewise(LSHR, 4).and(0xF).selectFrom(t).reinterpretAsFloats().fma(xh, h1);
            dm = g.get(QuantBlocks.LE_INT, r2 + block);
            t = IOTA.fma(Float.float16ToFloat((short) dm), Float.float16ToFloat((short) (dm >>> 16))).reinterpretAsInts();
            q = (jdk.incubator.vector.IntVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, r2 + block + 4, QuantBlocks.LE).convertShape(jdk.incubator.vector.VectorOperators.B2I, QuantBlocks.IW, 0);
            l2 = q.and(0xF).selectFrom(t).reinterpretAsFloats().fma(xl, l2);
            h2 = q.lanewise(LSHR, 4).and(0xF).selectFrom(t).reinterpretAsFloats().fma(xh, h2);
            dm = g.get(QuantBlocks.LE_INT, r3 + block);
            t = IOTA.fma(Float.float16ToFloat((short) dm), Float.float16ToFloat((short) (dm >>> 16))).reinterpretAsInts();
            q = (jdk.incubator.vector.IntVector) ByteVector.fromMemorySegment(QuantBlocks.BW, g, r3 + block + 4, QuantBlocks.LE).convertShape(jdk.incubator.vector.VectorOperators.B2I, QuantBlocks.IW, 0);
            l3 = q.and(0xF).selectFrom(t).reinterpretAsFloats().fma(xl, l3);
            h3 = q.lanewise(LSHR, 4).and(0xF).selectFrom(t).reinterpretAsFloats().fma(xh, h3);
        }
        out[r0] = l0.add(h0).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        out[r0 + 1] = l1.add(h1).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        out[r0 + 2] = l2.add(h2).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        out[r0 + 3] = l3.add(h3).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    /** Batched decode: all rows of the matrix times {@code batch} vectors (see the class comment). */
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Warmup(iterations = 3, time = 1)
    @Measurement(iterations = 5, time = 1)
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
            "-XX:+UseParallelGC", "-Xmx1g"})
    @State(Scope.Thread)
    public static class Batched {
        @Param({"1536x576", "576x1536", "49152x576"})
        public String shape;

        @Param({"Q4_1", "Q8_0"})
        public String type;

        @Param({"4", "16"})
        public int batch;

        @Param({"dotRow", "tiles"})
        public String path;

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
            if (path.equals("tiles") && !RowDotTiles.supports(dot)) throw new IllegalStateException("no tiles on this CPU");
            x = new float[batch * w.cols()];
            SplittableRandom rnd = new SplittableRandom(2);
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            out = new float[batch * w.rows()];
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }

        @Benchmark
        public float rows() {
            int rows = w.rows(), cols = w.cols();
            long rowBytes = w.rowBytes();
            if (path.equals("tiles")) {
                RowDotTiles.rows(dot, w.data(), rowBytes, 0, rows, cols, x, 0, cols, batch, out, 0, rows);
            } else {
                for (int r = 0; r < rows; r++)
                    for (int t = 0; t < batch; t++) out[t * rows + r] = dot.dotRow(w.data(), r * rowBytes, cols, x, t * cols);
            }
            return out[0];
        }
    }
}
