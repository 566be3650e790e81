package moice.train;

import jdk.incubator.vector.FloatVector;
import moice.model.Model;
import moice.model.ModelConfig;
import moice.model.Weights;
import moice.tensor.Exp;
import moice.tensor.Matrix;
import moice.tensor.Parallel;
import moice.tensor.VectorKernels;

/**
 * Backward of one frozen decoder layer: from the gradient of its output, the gradient of its input, with the
 * router gradients of its attention added on the way. Follows {@link Model#layer} step by step in reverse; the
 * layer's intermediates come from the {@link Model.LayerBuffers} of a fresh forward of the same layer.
 */
final class LayerBackward {
    /**
     * What backward reads of a layer's forward (views of {@link Model.LayerBuffers} or copies of them):
     * queries {@code [T, qDim]}, the residual stream after attention {@code [T, hidden]}, gate and up projections
     * {@code [T, intermediate]}.
     */
    record Saved(float[] q, float[] mid, float[] gate, float[] up) {
        static Saved view(Model.LayerBuffers b) {
            return new Saved(b.q, b.mid, b.gate, b.up);
        }

        static Saved copy(Model.LayerBuffers b, int T, ModelConfig c) {
            return new Saved(java.util.Arrays.copyOf(b.q, T * c.qDim()), java.util.Arrays.copyOf(b.mid, T * c.hiddenSize()),
                    java.util.Arrays.copyOf(b.gate, T * c.intermediateSize()),
                    java.util.Arrays.copyOf(b.up, T * c.intermediateSize()));
        }

        /** Bytes a copy takes for one layer at T tokens. */
        static long bytes(ModelConfig c, int T) {
            return 4L * T * (c.qDim() + c.hiddenSize() + 2L * c.intermediateSize());
        }
    }

    private final ModelConfig config;
    private final int T;
    private final TransposedWeights transposed;
    private final float[] dAct, dGateUp, dNormed, dMid, dAttn, dq, dk, dv, dQkv;

    LayerBackward(ModelConfig config, int T, TransposedWeights transposed) {
        this.config = config;
        this.T = T;
        this.transposed = transposed;
        int H = config.hiddenSize(), F = config.intermediateSize();
        dAct = new float[T * F];
        dGateUp = new float[T * 2 * F];
        dNormed = new float[T * H];
        dMid = new float[T * H];
        dAttn = new float[T * config.qDim()];
        dq = new float[T * config.qDim()];
        dk = new float[T * config.kvDim()];
        dv = new float[T * config.kvDim()];
        dQkv = new float[T * (config.qDim() + 2 * config.kvDim())];
    }

    /**
     * @param layer index of the layer
     * @param input the layer's input residual stream {@code [T, hidden]}
     * @param saved the layer's intermediates from {@link Model#layer} on {@code input}
     * @param dOut  gradient of the layer's output; the returned array (the input's gradient) may be it, reused
     */
    float[] run(int layer, Weights.Layer w, float[] input, Saved saved, float[] keys, float[] values, float[] dOut,
                AttentionGrad attention, RouterGradients grads, double[] auxGrad) {
        Saved b = saved;
        int H = config.hiddenSize(), F = config.intermediateSize();
        float eps = config.rmsNormEps();

        // MLP: out = mid + down(silu(gate) ⊙ up), gate/up of rmsnorm(mid)
        transposed.of(w.down()).matmul(dOut, T, dAct);
        // rows of [dGate | dUp], so that one GEMM with [Wgate; Wup]ᵀ gives dGate·Wgate + dUp·Wup
        Parallel.forRange(T, 16, (lo, hi) -> {
            for (int t = lo; t < hi; t++) siluBackward(b.gate, b.up, dAct, t * F, F, dGateUp, 2 * t * F, dGateUp, (2 * t + 1) * F);
        });
        transposed.stacked(w.gate(), w.up()).matmul(dGateUp, T, dNormed);
        System.arraycopy(dOut, 0, dMid, 0, T * H);
        rmsnormBackwardRows(b.mid, w.ffnNorm(), dNormed, dMid, H, eps);

        // attention: mid = input + o_proj(attention(q, k, v)), q/k/v of rmsnorm(input)
        transposed.of(w.o()).matmul(dMid, T, dAttn);
        attention.backward(layer, b.q, keys, values, dAttn, dq, dk, dv, grads, auxGrad);
        int qDim = config.qDim(), kvDim = config.kvDim(), width = qDim + 2 * kvDim;
        for (int t = 0; t < T; t++) {
            System.arraycopy(dq, t * qDim, dQkv, t * width, qDim);
            System.arraycopy(dk, t * kvDim, dQkv, t * width + qDim, kvDim);
            System.arraycopy(dv, t * kvDim, dQkv, t * width + qDim + kvDim, kvDim);
        }
        transposed.stacked(w.q(), w.k(), w.v()).matmul(dQkv, T, dNormed);
        rmsnormBackwardRows(input, w.attnNorm(), dNormed, dMid, H, eps);
        System.arraycopy(dMid, 0, dOut, 0, T * H);
        return dOut;
    }

    /**
     * Backward of {@code a = silu(g) ⊙ u} over {@code n} elements at {@code o} of {@code gate}, {@code up} and
     * {@code dAct}: {@code dGate = dA·u·σ(g)·(1 + g·(1 − σ(g)))}, {@code dUp = dA·g·σ(g)}. Bit-identical to the scalar twin.
     */
    static void siluBackward(float[] gate, float[] up, float[] dAct, int o, int n, float[] dGate, int go, float[] dUp,
                             int uo) {
        var S = AttentionTiles.S;
        int L = S.length(), i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (; i <= n - L; i += L) {
            FloatVector g = FloatVector.fromArray(S, gate, o + i), da = FloatVector.fromArray(S, dAct, o + i);
            FloatVector sig = one.div(one.add(Exp.exp(g.neg())));
            da.mul(g).mul(sig).intoArray(dUp, uo + i);
            da.mul(FloatVector.fromArray(S, up, o + i)).mul(sig).mul(one.add(g.mul(one.sub(sig)))).intoArray(dGate, go + i);
        }
        for (; i < n; i++) siluBackwardScalar(gate, up, dAct, o + i, 1, dGate, go + i, dUp, uo + i);
    }

    /** Scalar twin of {@link #siluBackward}. */
    static void siluBackwardScalar(float[] gate, float[] up, float[] dAct, int o, int n, float[] dGate, int go,
                                   float[] dUp, int uo) {
        for (int i = 0; i < n; i++) {
            float g = gate[o + i], da = dAct[o + i], sig = 1f / (1f + Exp.exp(-g));
            dUp[uo + i] = da * g * sig;
            dGate[go + i] = da * up[o + i] * sig * (1f + g * (1f - sig));
        }
    }

    private void rmsnormBackwardRows(float[] x, float[] weight, float[] dy, float[] dx, int H, float eps) {
        Parallel.forRange(T, 16, (lo, hi) -> {
            for (int t = lo; t < hi; t++) rmsnormBackward(x, t * H, weight, dy, t * H, dx, t * H, H, eps);
        });
    }

    /**
     * Adds to {@code dx} the gradient through {@code y = x · w / sqrt(mean(x²) + eps)} of one row:
     * {@code dx_i += r·w_i·dy_i − x_i·r³·Σ_j(x_j·w_j·dy_j) / H}, with {@code r = 1/sqrt(mean(x²) + eps)}.
     */
    static void rmsnormBackward(float[] x, int xo, float[] w, float[] dy, int dyo, float[] dx, int dxo, int H,
                                float eps) {
        double ss = 0, dot = 0;
        for (int i = 0; i < H; i++) {
            double v = x[xo + i];
            ss += v * v;
            dot += v * w[i] * dy[dyo + i];
        }
        double r = 1 / Math.sqrt(ss / H + eps), c = r * r * r * dot / H;
        for (int i = 0; i < H; i++) dx[dxo + i] += (float) (r * w[i] * dy[dyo + i] - x[xo + i] * c);
    }
}
