package moice.model;

import moice.load.LoadedModel;
import moice.tensor.VectorKernels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * An inference forward runs a block's MLP in pieces of {@link Model#FFN_ROWS} rows (smaller activation arrays); the
 * training path ({@link Model.LayerBuffers} kept whole) runs the block at once. Both use the GEMM for every piece
 * (a tail shorter than {@link Model#FFN_TAIL} joins its neighbour), whose sum for one output element does not depend
 * on how many rows are multiplied together, so the logits must be the same bits, not merely close.
 */
class FfnPiecesTest {

    @ParameterizedTest
    @ValueSource(ints = {Model.FFN_ROWS, Model.FFN_ROWS + Model.FFN_TAIL - 1, Model.FFN_ROWS + Model.FFN_TAIL, 300,
            Model.MAX_BLOCK})
    void piecesGiveTheWholeBlocksBits(int T) {
        Path dir = HfLogitsTest.MODELS.resolve("qwen2-bias-tied");   // biases on q/k/v: the offset paths too
        try (LoadedModel m = LoadedModel.open(dir)) {
            Model model = m.model();
            ModelConfig c = m.config();
            int[] ids = new Random(T).ints(T, 0, c.vocabSize()).toArray();
            float[] pieces = model.forward(ids, model.newCache(T), model.vanilla(), T);
            assertArrayEquals(wholeBlock(model, ids), pieces, "T = " + T);
        }
    }

    /** The forward pass of one block with the training path's buffers: every layer's MLP over all T rows at once. */
    private static float[] wholeBlock(Model model, int[] ids) {
        ModelConfig c = model.config();
        int T = ids.length, H = c.hiddenSize();
        Weights w = model.weights();
        float[] x = new float[T * H];
        for (int t = 0; t < T; t++) w.embed().row(ids[t], x, t * H);
        KVCache cache = model.newCache(T);
        var attention = model.vanilla();
        var state = attention.newState();
        Model.LayerBuffers buf = new Model.LayerBuffers(c, T);
        for (int l = 0; l < c.numLayers(); l++) model.layer(l, x, T, 0, cache, attention, state, buf);
        float[] normed = new float[T * H];
        for (int t = 0; t < T; t++) VectorKernels.rmsnorm(x, t * H, w.finalNorm(), normed, t * H, H, c.rmsNormEps());
        float[] logits = new float[T * c.vocabSize()];
        w.lmHead().matmul(normed, T, logits);
        return logits;
    }
}
