package moice.cli;

import moice.MoiceException;
import moice.attention.AttentionVariant;
import moice.attention.MoiceAttention;
import moice.attention.MsPoeAttention;
import moice.attention.Routers;
import moice.io.LoadedModel;
import moice.io.RouterFile;
import moice.model.AttentionBuckets;
import moice.model.InferenceSession;
import moice.model.Model;
import moice.model.ModelConfig;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The {@code --method} / {@code --moice} flags (and the baselines' parameters) shared by commands that run the model. */
final class AttentionOptions {
    static final List<String> METHODS = List.of("vanilla", "moice", "ab", "mspoe");

    @Option(names = "--moice", paramLabel = "ROUTERS",
            description = "MoICE router checkpoint (.safetensors); implies --method moice.")
    Path routers;

    @Option(names = "--method", paramLabel = "METHOD",
            description = "Attention: vanilla, moice (needs --moice), ab (Attention Buckets) or mspoe (Ms-PoE); "
                    + "default: moice with --moice, else vanilla.")
    String method;

    @Option(names = "--ab-bases", split = ",", paramLabel = "B1,B2,..",
            description = "Attention Buckets bases (default: the retrieval-QA set 10000,13000,..,28000 scaled by rope_theta/10000).")
    List<Double> abBases;

    @Option(names = "--mspoe-min", paramLabel = "R", description = "Ms-PoE smallest ratio (default 1.2).")
    Double mspoeMin;

    @Option(names = "--mspoe-max", paramLabel = "R",
            description = "Ms-PoE: ratios are min + (max - min)·i/H for head rank i (default 1.8).")
    Double mspoeMax;

    /** The chosen method, checked against the other flags. */
    String method() {
        if (method != null && method.contains(","))
            throw new MoiceException("--method: one method expected here, got '" + method + "'");
        List<String> ms = methods();
        return ms.get(0);
    }

    /**
     * The methods of a comma-separated {@code --method} (bench compares several), each checked against the other
     * flags; without {@code --method}: moice with --moice, else vanilla.
     */
    List<String> methods() {
        List<String> ms = new ArrayList<>();
        if (method == null) ms.add(routers != null ? "moice" : "vanilla");
        else for (String part : method.split(",", -1)) {
            String m = part.strip().toLowerCase(Locale.ROOT);
            if (!METHODS.contains(m))
                throw new MoiceException("--method: unknown attention method '" + part.strip()
                        + "'; expected vanilla, moice, ab or mspoe");
            if (!ms.contains(m)) ms.add(m);
        }
        if (ms.contains("moice") && routers == null) throw new MoiceException("--method moice needs --moice ROUTERS");
        if (routers != null && !ms.contains("moice"))
            throw new MoiceException("--moice " + routers + " conflicts with --method " + String.join(",", ms));
        if (abBases != null) {
            if (!ms.contains("ab")) throw new MoiceException("--ab-bases needs --method ab");
            if (abBases.isEmpty()) throw new MoiceException("--ab-bases: expected at least one base");
            for (double b : abBases)
                if (!(b > 0) || Double.isInfinite(b))
                    throw new MoiceException("--ab-bases: every base must be a positive number, got " + b);
        }
        if ((mspoeMin != null || mspoeMax != null) && !ms.contains("mspoe"))
            throw new MoiceException("--mspoe-min/--mspoe-max need --method mspoe");
        double lo = mspoeMin(), hi = mspoeMax();
        if (!(lo > 0) || !(hi >= lo) || Double.isInfinite(hi))
            throw new MoiceException("--mspoe-min/--mspoe-max: expected 0 < min <= max, got " + lo + " and " + hi);
        return ms;
    }

    private double mspoeMin() {
        return mspoeMin != null ? mspoeMin : MsPoeAttention.DEFAULT_MIN_RATIO;
    }

    private double mspoeMax() {
        return mspoeMax != null ? mspoeMax : MsPoeAttention.DEFAULT_MAX_RATIO;
    }

    /** The routers of {@code --moice}, validated against the model; null for other methods. */
    Routers loadRouters(ModelConfig config) {
        if (!methods().contains("moice")) return null;
        return RouterFile.read(routers, config.numLayers(), config.headDim());
    }

    /** The attention variant of a single-pass method; Attention Buckets has none. */
    private AttentionVariant attention(Model model, String m) {
        ModelConfig c = model.config();
        return switch (m) {
            case "vanilla" -> model.vanilla();
            case "moice" -> MoiceAttention.create(model.attentionShape(), loadRouters(c), c.ropeScaling(),
                    c.maxPositions());
            case "mspoe" -> new MsPoeAttention(model.attentionShape(), c.numLayers(), c.ropeTheta(), c.ropeScaling(),
                    c.maxPositions(), mspoeMin(), mspoeMax());
            default -> throw new IllegalArgumentException("no single attention variant for method " + m);
        };
    }

    /** Sessions running {@code method()} on the model. */
    InferenceSession.Factory sessions(LoadedModel m) {
        return sessions(m.model(), method());
    }

    /** Sessions running method {@code m} (one of {@link #methods()}) on {@code model}. */
    InferenceSession.Factory sessions(Model model, String m) {
        if (m.equals("ab")) {
            double[] bases = abBases != null ? abBases.stream().mapToDouble(Double::doubleValue).toArray()
                    : AttentionBuckets.retrievalQaBases(model.config().ropeTheta());
            return new AttentionBuckets(model, bases);
        }
        return InferenceSession.factory(model, attention(model, m));
    }
}
