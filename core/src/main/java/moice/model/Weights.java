package moice.model;

import moice.tensor.Matrix;

import java.util.ArrayList;
import java.util.List;

/**
 * The frozen weights of a model, as views in their stored format. Norm weights and biases are small and held as
 * float32 arrays; biases are null when the family has none.
 */
public record Weights(Matrix embed, float[] finalNorm, Matrix lmHead, List<Layer> layers) {

    /** One decoder layer. */
    public record Layer(float[] attnNorm, Matrix q, Matrix k, Matrix v, Matrix o,
                        float[] qBias, float[] kBias, float[] vBias, float[] oBias,
                        float[] ffnNorm, Matrix gate, Matrix up, Matrix down,
                        float[] gateBias, float[] upBias, float[] downBias) {
    }

    /** Loads (views) every tensor the config implies, checking shapes. */
    public static Weights load(ModelConfig c, TensorNames n, TensorLookup src) {
        int h = c.hiddenSize(), q = c.qDim(), kv = c.kvDim(), f = c.intermediateSize();
        Matrix embed = src.matrix(n.embed(), c.vocabSize(), h);
        Matrix lmHead = c.tiedEmbeddings() ? embed : src.matrix(n.lmHead(), c.vocabSize(), h);
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            layers.add(new Layer(
                    vector(src, TensorNames.at(n.attnNorm(), i), h),
                    src.matrix(TensorNames.at(n.q(), i), q, h),
                    src.matrix(TensorNames.at(n.k(), i), kv, h),
                    src.matrix(TensorNames.at(n.v(), i), kv, h),
                    src.matrix(TensorNames.at(n.o(), i), h, q),
                    c.qkvBias() ? vector(src, TensorNames.at(n.qBias(), i), q) : null,
                    c.qkvBias() ? vector(src, TensorNames.at(n.kBias(), i), kv) : null,
                    c.qkvBias() ? vector(src, TensorNames.at(n.vBias(), i), kv) : null,
                    c.oBias() ? vector(src, TensorNames.at(n.oBias(), i), h) : null,
                    vector(src, TensorNames.at(n.ffnNorm(), i), h),
                    src.matrix(TensorNames.at(n.gate(), i), f, h),
                    src.matrix(TensorNames.at(n.up(), i), f, h),
                    src.matrix(TensorNames.at(n.down(), i), h, f),
                    c.mlpBias() ? vector(src, TensorNames.at(n.gateBias(), i), f) : null,
                    c.mlpBias() ? vector(src, TensorNames.at(n.upBias(), i), f) : null,
                    c.mlpBias() ? vector(src, TensorNames.at(n.downBias(), i), h) : null));
        }
        return new Weights(embed, vector(src, n.finalNorm(), h), lmHead, List.copyOf(layers));
    }

    private static float[] vector(TensorLookup src, String name, int n) {
        return src.matrix(name, 1, n).toFloats();
    }
}
