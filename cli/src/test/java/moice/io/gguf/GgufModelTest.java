package moice.io.gguf;

import moice.Bounds;
import moice.cli.Main;
import moice.io.HfConfig;
import moice.io.SafeTensors;
import moice.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same model gives the same logits from HF safetensors and from GGUF: the llama-gqa reference checkpoint is
 * written as a llama-architecture GGUF the way llama.cpp's converter does it (tensor names, Q/K rows permuted for
 * interleaved RoPE), run through {@code bin/moice forward}, and compared with transformers' logits; then converted to
 * Q8_0 with {@code bin/moice convert} and run again, against its own exact F32 dequantisation.
 */
public class GgufModelTest {
    public static final Path HF = Path.of("src/test/resources/models/llama-gqa");

    @TempDir
    Path tmp;

    @Test
    void ggufFromHfCheckpointMatchesTransformers() {
        Path gguf = tmp.resolve("llama-gqa.gguf");
        writeLlamaGguf(HF, gguf);
        float[] ref = logits(HF.resolve("logits.safetensors"));
        double bound = Bounds.forwardPass(HF, HF.resolve("tokens.json"));
        assertTrue(relativeError(ref, forward(gguf)) <= bound);

        Path q8 = tmp.resolve("llama-gqa-q8_0.gguf");
        assertEquals(0, Main.run("convert", "--model", gguf.toString(), "--type", "q8_0", "--out", q8.toString()));
        float[] quantised = forward(q8);
        double err = relativeError(ref, quantised);
        System.out.printf("llama-gqa Q8_0 GGUF vs transformers fp32: max|Δ|/max|ref| = %.2e%n", err);
        assertTrue(err <= 0.1, "Q8_0 quantisation error " + err);
        // exactness of the quantised kernels: the Q8_0 model equals its own exact F32 dequantisation
        Path dequantised = tmp.resolve("llama-gqa-q8_0-f32.gguf");
        assertEquals(0, Main.run("convert", "--model", q8.toString(), "--type", "f32", "--out", dequantised.toString()));
        assertTrue(relativeError(forward(dequantised), quantised) <= bound);
    }

    @Test
    void aGgufWithoutTokenizerRunsForwardButNotGenerate() {
        Path gguf = tmp.resolve("no-tokenizer.gguf");
        writeLlamaGguf(HF, gguf);
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertEquals(1, Main.run("generate", "--model", gguf.toString(), "--prompt", "hi"));
        } finally {
            System.setErr(oldErr);
        }
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertTrue(message.startsWith("moice: ") && message.contains("tokenizer.ggml") && !message.contains("\n"), message);
    }

    private float[] forward(Path gguf) {
        Path out = tmp.resolve(gguf.getFileName() + ".logits.safetensors");
        assertEquals(0, Main.run("forward", "--model", gguf.toString(), "--tokens", HF.resolve("tokens.json").toString(),
                "--out", out.toString()));
        return logits(out);
    }

    static float[] logits(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            long[] s = st.shape("logits");
            return st.matrix("logits", (int) s[0], (int) s[1]).toFloats();
        }
    }

    static double relativeError(float[] ref, float[] got) {
        assertEquals(ref.length, got.length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxDiff / maxRef;
    }

    /** Writes an HF Llama checkpoint as a llama.cpp-style GGUF (F32, no tokenizer). */
    public static void writeLlamaGguf(Path hfDir, Path out) {
        ModelConfig c = HfConfig.load(hfDir.resolve("config.json"));
        try (SafeTensors st = SafeTensors.open(hfDir.resolve("model.safetensors"))) {
            GgufWriter w = new GgufWriter()
                    .metadata("general.architecture", GgufValueType.STRING, "llama")
                    .metadata("llama.context_length", GgufValueType.UINT32, (long) c.maxPositions())
                    .metadata("llama.embedding_length", GgufValueType.UINT32, (long) c.hiddenSize())
                    .metadata("llama.block_count", GgufValueType.UINT32, (long) c.numLayers())
                    .metadata("llama.feed_forward_length", GgufValueType.UINT32, (long) c.intermediateSize())
                    .metadata("llama.attention.head_count", GgufValueType.UINT32, (long) c.numHeads())
                    .metadata("llama.attention.head_count_kv", GgufValueType.UINT32, (long) c.numKvHeads())
                    .metadata("llama.attention.key_length", GgufValueType.UINT32, (long) c.headDim())
                    .metadata("llama.rope.freq_base", GgufValueType.FLOAT32, (float) c.ropeTheta())
                    .metadata("llama.attention.layer_norm_rms_epsilon", GgufValueType.FLOAT32, c.rmsNormEps())
                    .metadata("llama.vocab_size", GgufValueType.UINT32, (long) c.vocabSize());
            add(w, st, "model.embed_tokens.weight", "token_embd.weight", 0, 0);
            add(w, st, "model.norm.weight", "output_norm.weight", 0, 0);
            add(w, st, "lm_head.weight", "output.weight", 0, 0);
            for (int l = 0; l < c.numLayers(); l++) {
                String hf = "model.layers." + l + ".", g = "blk." + l + ".";
                add(w, st, hf + "input_layernorm.weight", g + "attn_norm.weight", 0, 0);
                add(w, st, hf + "self_attn.q_proj.weight", g + "attn_q.weight", c.numHeads(), c.headDim());
                add(w, st, hf + "self_attn.k_proj.weight", g + "attn_k.weight", c.numKvHeads(), c.headDim());
                add(w, st, hf + "self_attn.v_proj.weight", g + "attn_v.weight", 0, 0);
                add(w, st, hf + "self_attn.o_proj.weight", g + "attn_output.weight", 0, 0);
                add(w, st, hf + "post_attention_layernorm.weight", g + "ffn_norm.weight", 0, 0);
                add(w, st, hf + "mlp.gate_proj.weight", g + "ffn_gate.weight", 0, 0);
                add(w, st, hf + "mlp.up_proj.weight", g + "ffn_up.weight", 0, 0);
                add(w, st, hf + "mlp.down_proj.weight", g + "ffn_down.weight", 0, 0);
            }
            w.write(out);
        }
    }

    /**
     * Adds one tensor as F32. With {@code heads > 0} the rows are permuted as llama.cpp's converter does for Q/K:
     * within each head, GGUF row {@code 2i + j} is HF row {@code j·d/2 + i} (rotate-half pairs become adjacent).
     */
    private static void add(GgufWriter w, SafeTensors st, String hfName, String ggufName, int heads, int headDim) {
        long[] shape = st.shape(hfName);
        int rows = shape.length == 2 ? (int) shape[0] : 1, cols = (int) shape[shape.length - 1];
        float[] v = st.matrix(hfName, rows, cols).toFloats();
        float[] out = v;
        if (heads > 0) {
            out = new float[v.length];
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < headDim / 2; i++)
                    for (int j = 0; j < 2; j++)
                        System.arraycopy(v, (h * headDim + j * headDim / 2 + i) * cols, out,
                                (h * headDim + 2 * i + j) * cols, cols);
        }
        float[] data = out;
        long[] dims = shape.length == 2 ? new long[]{cols, rows} : new long[]{cols};
        w.tensor(ggufName, GgufType.F32, dims, ch -> {
            ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(data);
            while (b.hasRemaining()) ch.write(b);
        });
    }
}
