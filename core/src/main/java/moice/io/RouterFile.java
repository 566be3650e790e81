package moice.io;

import moice.MoiceException;
import moice.attention.Routers;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * MoICE router checkpoints: one safetensors file with, per layer {@code i},
 * {@code model.layers.{i}.self_attn.gate_1.weight [N, d]}, {@code gate_2 [N, N]}, {@code gate_3 [N, d]} (float32 when
 * written; F16/BF16 are accepted when read) and {@code __metadata__} entries {@code moice.bases} (JSON array of
 * numbers) and {@code moice.top_k} (integer). Reading validates everything and names the file and the tensor or field
 * that is wrong; writing is atomic.
 */
public final class RouterFile {
    public static final String BASES_KEY = "moice.bases";
    public static final String TOP_K_KEY = "moice.top_k";
    private static final Pattern GATE = Pattern.compile("model\\.layers\\.(\\d+)\\.self_attn\\.gate_([123])\\.weight");

    private RouterFile() {}

    /**
     * Reads and validates routers for a model with {@code numLayers} layers and head dimension {@code headDim}: one
     * router per layer, shapes {@code [N, headDim]}/{@code [N, N]} with N the number of bases.
     */
    public static Routers read(Path file, int numLayers, int headDim) {
        Routers r = read(file);
        if (r.numLayers() != numLayers)
            throw new MoiceException(file + ": routers for " + r.numLayers() + " layers; the model has " + numLayers);
        if (r.headDim() != headDim)
            throw new MoiceException(file + ": tensor '" + Routers.tensorName(0, 1) + "' has " + r.headDim()
                    + " columns; the model's head_dim is " + headDim);
        return r;
    }

    /** Reads and validates routers, taking the layer count and head dimension from the file itself. */
    public static Routers read(Path file) {
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, String> meta = st.metadata();
            double[] bases = readBases(file, meta.get(BASES_KEY));
            int n = bases.length;
            int topK = readTopK(file, meta.get(TOP_K_KEY), n);
            int layers = layerCount(file, st.names());
            if (layers == 0) throw new MoiceException(file + ": no router tensors (" + Routers.tensorName(0, 1) + ", ...)");
            long[] shape1 = shape(st, file.toString(), Routers.tensorName(0, 1));
            if (shape1.length != 2 || shape1[0] != n || shape1[1] < 2 || shape1[1] % 2 != 0 || shape1[1] > 1 << 16)
                throw new MoiceException(file + ": tensor '" + Routers.tensorName(0, 1) + "' has shape "
                        + java.util.Arrays.toString(shape1) + "; expected [" + n + " (number of bases), head_dim (even)]");
            return gates(st, file.toString(), bases, topK, layers, (int) shape1[1]);
        }
    }

    /**
     * The routers held by {@code tensors} for layers {@code 0..layers-1}: every gate present, float32/F16/BF16 of
     * shape {@code [N, headDim]}, {@code [N, N]}, {@code [N, headDim]} with N the number of bases, and finite. Errors
     * name the file holding the tensor (or {@code where} when it is missing) and the tensor. {@code bases} and
     * {@code topK} must have passed {@link #bases} and {@link #topK}.
     */
    static Routers gates(TensorSource tensors, String where, double[] bases, int topK, int layers, int headDim) {
        int n = bases.length;
        float[][] g1 = new float[layers][], g2 = new float[layers][], g3 = new float[layers][];
        for (int l = 0; l < layers; l++) {
            g1[l] = weights(tensors, where, Routers.tensorName(l, 1), n, headDim);
            g2[l] = weights(tensors, where, Routers.tensorName(l, 2), n, n);
            g3[l] = weights(tensors, where, Routers.tensorName(l, 3), n, headDim);
        }
        return new Routers(bases, topK, headDim, g1, g2, g3);
    }

    /** Writes {@code routers} atomically (float32 tensors, metadata as above). */
    public static void write(Routers routers, Path file) {
        writer(routers).write(file);
    }

    /**
     * A writer holding the router file of {@code routers} (tensors and metadata); callers may add metadata before
     * writing. {@code grad} uses it with gradient values in place of weights.
     */
    public static SafeTensorsWriter writer(Routers routers) {
        int n = routers.numExperts(), d = routers.headDim();
        StringBuilder bases = new StringBuilder("[");
        for (int i = 0; i < n; i++) bases.append(i == 0 ? "" : ", ").append(routers.bases()[i]);
        SafeTensorsWriter w = new SafeTensorsWriter()
                .metadata(BASES_KEY, bases.append(']').toString())
                .metadata(TOP_K_KEY, Integer.toString(routers.topK()));
        for (int l = 0; l < routers.numLayers(); l++) {
            w.addF32(Routers.tensorName(l, 1), routers.gate1()[l], n, d);
            w.addF32(Routers.tensorName(l, 2), routers.gate2()[l], n, n);
            w.addF32(Routers.tensorName(l, 3), routers.gate3()[l], n, d);
        }
        return w;
    }

    private static double[] readBases(Path file, String text) {
        String what = file + ": metadata '" + BASES_KEY + "'";
        if (text == null) throw new MoiceException(what + " is missing (expected a JSON array of RoPE bases)");
        return bases(Json.parse(text, what), what);
    }

    /**
     * The RoPE bases in a parsed JSON value: a non-empty array of distinct, finite, positive numbers. {@code what}
     * names the field in errors.
     */
    static double[] bases(Object json, String what) {
        List<Object> list = Json.array(json, what);
        if (list.isEmpty()) throw new MoiceException(what + " is empty; expected at least one RoPE base");
        double[] bases = new double[list.size()];
        Set<Double> seen = new HashSet<>();
        for (int i = 0; i < bases.length; i++) {
            double b = Json.number(list.get(i), what + " element " + i);
            if (!(b > 0) || Double.isInfinite(b))
                throw new MoiceException(what + " element " + i + " (" + b + ") is not a positive RoPE base");
            if (!seen.add(b)) throw new MoiceException(what + " element " + i + " (" + b + ") repeats an earlier base");
            bases[i] = b;
        }
        return bases;
    }

    private static int readTopK(Path file, String text, int n) {
        String what = file + ": metadata '" + TOP_K_KEY + "'";
        if (text == null) throw new MoiceException(what + " is missing (expected an integer in [1, " + n + "])");
        return topK(Json.parse(text.trim(), what), n, what);
    }

    /** The top-k in a parsed JSON value: an integer in {@code [1, n]}; {@code what} names the field in errors. */
    static int topK(Object json, int n, String what) {
        long k = Json.integer(json, what);
        if (k < 1 || k > n)
            throw new MoiceException(what + " is " + k + "; expected an integer in [1, " + n + "] (number of bases)");
        return (int) k;
    }

    /** Highest layer index + 1, checking that every layer below it has all three gates and nothing else is there. */
    private static int layerCount(Path file, Set<String> names) {
        TreeSet<Integer> layers = new TreeSet<>();
        for (String name : names) {
            Matcher m = GATE.matcher(name);
            if (!m.matches()) throw new MoiceException(file + ": unexpected tensor '" + name + "' in a router file");
            String digits = m.group(1);
            if (digits.length() > 6 || (digits.length() > 1 && digits.startsWith("0")))
                throw new MoiceException(file + ": tensor '" + name + "' has a malformed layer index");
            layers.add(Integer.parseInt(digits));
        }
        int count = layers.isEmpty() ? 0 : layers.last() + 1;
        for (int l = 0; l < count; l++)
            for (int g = 1; g <= 3; g++)
                if (!names.contains(Routers.tensorName(l, g)))
                    throw new MoiceException(file + ": tensor '" + Routers.tensorName(l, g) + "' is missing");
        return count;
    }

    private static long[] shape(TensorSource st, String where, String name) {
        if (!st.has(name)) throw new MoiceException(where + ": tensor '" + name + "' is missing");
        return st.shape(name);
    }

    private static float[] weights(TensorSource st, String where, String name, int rows, int cols) {
        long[] s = shape(st, where, name);
        String file = st.describe(name);
        if (s.length != 2 || s[0] != rows || s[1] != cols)
            throw new MoiceException(file + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(s)
                    + "; expected [" + rows + ", " + cols + "]");
        float[] w = st.matrix(name, rows, cols).toFloats();
        for (int i = 0; i < w.length; i++)
            if (!Float.isFinite(w[i]))
                throw new MoiceException(file + ": tensor '" + name + "' holds " + w[i] + " at row " + i / cols
                        + ", column " + i % cols + "; router weights must be finite");
        return w;
    }
}
