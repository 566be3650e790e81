package moice.train;

import moice.MoiceException;
import moice.attention.Routers;
import moice.io.Json;
import moice.io.SafeTensors;
import moice.io.SafeTensorsWriter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a training run needs to continue bit-identically after it was killed: the routers after {@code step}
 * optimizer steps, the AdamW moments, the arguments that shaped the run, and the per-step log rows. The data order is
 * derived from the seed and the step ({@link DataOrder}), so no random-generator state is kept.
 *
 * <p>The state is one safetensors file, written atomically after every step <b>before</b> the router checkpoint; it
 * holds the routers itself, so it is always self-consistent, and a router file one step behind (killed between the
 * two writes) is simply rewritten from it on resume. Tensors (float32): the router gates under their checkpoint
 * names, and the moments under {@code adamw.m.<name>} / {@code adamw.v.<name>}. Metadata: {@code moice.bases},
 * {@code moice.top_k}, {@code train.step}, {@code train.arguments} (JSON object of strings),
 * {@code train.history} (JSON array of log rows).
 */
public record TrainingState(int step, Routers routers, RouterGradients firstMoments, RouterGradients secondMoments,
                            Map<String, String> arguments, List<TrainingLog.Row> history) {

    static final String STEP_KEY = "train.step";
    static final String ARGUMENTS_KEY = "train.arguments";
    static final String HISTORY_KEY = "train.history";
    static final String FORMAT_KEY = "train.format";
    static final String FORMAT = "moice-router-training-state-1";

    /** Writes the state atomically. */
    public void write(Path file) {
        int n = routers.numExperts(), d = routers.headDim();
        StringBuilder bases = new StringBuilder("[");
        for (int i = 0; i < n; i++) bases.append(i == 0 ? "" : ", ").append(routers.bases()[i]);
        List<Object> rows = new ArrayList<>();
        for (TrainingLog.Row r : history) rows.add(r.toJson());
        SafeTensorsWriter w = new SafeTensorsWriter()
                .metadata(FORMAT_KEY, FORMAT)
                .metadata(moice.io.RouterFile.BASES_KEY, bases.append(']').toString())
                .metadata(moice.io.RouterFile.TOP_K_KEY, Integer.toString(routers.topK()))
                .metadata(STEP_KEY, Integer.toString(step))
                .metadata(ARGUMENTS_KEY, Json.write(new LinkedHashMap<>(arguments)))
                .metadata(HISTORY_KEY, Json.write(rows));
        for (int l = 0; l < routers.numLayers(); l++) {
            for (int g = 1; g <= 3; g++) {
                String name = Routers.tensorName(l, g);
                int rowsOf = n, cols = g == 2 ? n : d;
                w.addF32(name, gate(routers.gate1(), routers.gate2(), routers.gate3(), g)[l], rowsOf, cols);
                w.addF32("adamw.m." + name, gate(firstMoments.gate1(), firstMoments.gate2(), firstMoments.gate3(), g)[l], rowsOf, cols);
                w.addF32("adamw.v." + name, gate(secondMoments.gate1(), secondMoments.gate2(), secondMoments.gate3(), g)[l], rowsOf, cols);
            }
        }
        w.write(file);
    }

    private static float[][] gate(float[][] g1, float[][] g2, float[][] g3, int which) {
        return which == 1 ? g1 : which == 2 ? g2 : g3;
    }

    /**
     * Reads a state written by {@link #write}, for routers shaped like {@code shape} (same bases, top-K, layers and
     * head dimension; anything else is an error naming the file).
     */
    public static TrainingState read(Path file, Routers shape) {
        if (!Files.isRegularFile(file)) throw new MoiceException(file + ": no training state to resume from");
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, String> meta = st.metadata();
            if (!FORMAT.equals(meta.get(FORMAT_KEY)))
                throw new MoiceException(file + ": metadata '" + FORMAT_KEY + "' is " + meta.get(FORMAT_KEY)
                        + "; expected " + FORMAT + " (not a moice training state)");
            int step = (int) Json.integer(Json.parse(required(meta, STEP_KEY, file), file + ": " + STEP_KEY),
                    file + ": metadata '" + STEP_KEY + "'");
            if (step < 0) throw new MoiceException(file + ": metadata '" + STEP_KEY + "' is negative");
            Map<String, String> arguments = new LinkedHashMap<>();
            Json.object(Json.parse(required(meta, ARGUMENTS_KEY, file), file + ": " + ARGUMENTS_KEY),
                    file + ": metadata '" + ARGUMENTS_KEY + "'").forEach((k, v) ->
                    arguments.put(k, Json.string(v, file + ": metadata '" + ARGUMENTS_KEY + "' key " + k)));
            List<TrainingLog.Row> history = new ArrayList<>();
            List<Object> rows = Json.array(Json.parse(required(meta, HISTORY_KEY, file), file + ": " + HISTORY_KEY),
                    file + ": metadata '" + HISTORY_KEY + "'");
            for (int i = 0; i < rows.size(); i++) {
                String what = file + ": metadata '" + HISTORY_KEY + "' row " + i;
                history.add(TrainingLog.Row.fromJson(Json.array(rows.get(i), what), what));
            }
            if (history.size() != step)
                throw new MoiceException(file + ": " + history.size() + " log rows for " + step + " steps");
            String bases = meta.get(moice.io.RouterFile.BASES_KEY);
            List<Object> saved = bases == null ? List.of() : Json.array(Json.parse(bases, file + ": bases"), file + ": bases");
            boolean same = saved.size() == shape.numExperts();
            for (int i = 0; same && i < saved.size(); i++)
                same = Json.number(saved.get(i), file + ": bases") == shape.bases()[i];
            if (!same)
                throw new MoiceException(file + ": bases " + bases + " differ from this run's "
                        + java.util.Arrays.toString(shape.bases()));
            String topK = meta.get(moice.io.RouterFile.TOP_K_KEY);
            if (!Integer.toString(shape.topK()).equals(topK))
                throw new MoiceException(file + ": top_k " + topK + " differs from this run's " + shape.topK());
            float[][][] w = tensors(st, file, "", shape), m = tensors(st, file, "adamw.m.", shape),
                    v = tensors(st, file, "adamw.v.", shape);
            Routers routers;
            try {
                routers = new Routers(shape.bases().clone(), shape.topK(), shape.headDim(), w[0], w[1], w[2]);
            } catch (IllegalArgumentException e) {
                throw new MoiceException(file + ": routers: " + e.getMessage(), e);
            }
            return new TrainingState(step, routers, new RouterGradients(m[0], m[1], m[2]),
                    new RouterGradients(v[0], v[1], v[2]), arguments, history);
        }
    }

    private static String required(Map<String, String> meta, String key, Path file) {
        String v = meta.get(key);
        if (v == null) throw new MoiceException(file + ": metadata '" + key + "' is missing");
        return v;
    }

    private static float[][][] tensors(SafeTensors st, Path file, String prefix, Routers shape) {
        int layers = shape.numLayers(), n = shape.numExperts(), d = shape.headDim();
        float[][][] out = new float[3][layers][];
        for (int l = 0; l < layers; l++) {
            for (int g = 1; g <= 3; g++) {
                String name = prefix + Routers.tensorName(l, g);
                int cols = g == 2 ? n : d;
                if (!st.has(name)) throw new MoiceException(file + ": tensor '" + name + "' is missing");
                long[] s = st.shape(name);
                if (s.length != 2 || s[0] != n || s[1] != cols || st.dtype(name) != moice.tensor.DType.F32)
                    throw new MoiceException(file + ": tensor '" + name + "' is " + st.dtype(name) + " "
                            + java.util.Arrays.toString(s) + "; expected F32 [" + n + ", " + cols + "]");
                float[] values = st.matrix(name, n, cols).toFloats();
                for (float x : values)
                    if (!Float.isFinite(x)) throw new MoiceException(file + ": tensor '" + name + "' holds " + x);
                out[g - 1][l] = values;
            }
        }
        return out;
    }
}
