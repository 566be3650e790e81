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
import java.util.Optional;

/** The {@code --method} / {@code --moice} flags (and the baselines' parameters) shared by commands that run the model. */
final class AttentionOptions {
    static final List<String> METHODS = List.of("vanilla", "moice", "ab", "mspoe");

    @Option(names = "--moice", paramLabel = "ROUTERS",
            description = "MoICE router checkpoint (.safetensors); implies --method moice and overrides a MoICE "
                    + "checkpoint's built-in routers.")
    Path routers;

    @Option(names = "--method", paramLabel = "METHOD",
            description = "Attention: vanilla, moice (needs --moice or a MoICE checkpoint), ab (Attention Buckets) or "
                    + "mspoe (Ms-PoE); default: moice with --moice or a MoICE checkpoint, else vanilla.")
    String method;

    @Option(names = "--ab-bases", split = ",", paramLabel = "B1,B2,..",
            description = "Attention Buckets bases (default: the retrieval-QA set 10000,13000,..,28000 scaled by rope_theta/10000).")
    List<Double> abBases;

    @Option(names = "--mspoe-min", paramLabel = "R", description = "Ms-PoE smallest ratio (default 1.2).")
    Double mspoeMin;

    @Option(names = "--mspoe-max", paramLabel = "R",
            description = "Ms-PoE: ratios are min + (max - min)·i/H for head rank i (default 1.8).")
    Double mspoeMax;

    @Option(names = "--mspoe-group-ratios",
            description = "Ms-PoE with grouped-query attention: rotate every query head with its KV head's ratio (keeps "
                    + "scores relative; the stated rule gives each query head its own ratio, which breaks GQA models).")
    boolean mspoeGroupRatios;

    /**
     * Flag errors that need no model, reported before it is loaded (its built-in routers are not known yet);
     * {@code oneMethod}: the command runs a single method, so a comma list is an error.
     */
    void checkFlags(boolean oneMethod) {
        if (oneMethod) checkOneMethod();
        methods(true);
    }

    /** The single method chosen for {@code m}, checked against the other flags and the model's built-in routers. */
    String method(LoadedModel m) {
        checkOneMethod();
        return methods(m.builtInRouters().isPresent()).get(0);
    }

    private void checkOneMethod() {
        if (method != null && method.contains(","))
            throw new MoiceException("--method: one method expected here, got '" + method + "'");
    }

    /**
     * The methods of a comma-separated {@code --method} (bench compares several), each checked against the other
     * flags; without {@code --method}: moice with --moice or with a model that has built-in routers
     * ({@code builtInRouters}), else vanilla.
     */
    List<String> methods(boolean builtInRouters) {
        boolean moiceAvailable = routers != null || builtInRouters;
        List<String> ms = new ArrayList<>();
        if (method == null) ms.add(moiceAvailable ? "moice" : "vanilla");
        else for (String part : method.split(",", -1)) {
            String m = part.strip().toLowerCase(Locale.ROOT);
            if (!METHODS.contains(m))
                throw new MoiceException("--method: unknown attention method '" + part.strip()
                        + "'; expected vanilla, moice, ab or mspoe");
            if (!ms.contains(m)) ms.add(m);
        }
        if (ms.contains("moice") && !moiceAvailable)
            throw new MoiceException("--method moice needs --moice ROUTERS (the model has no built-in MoICE routers)");
        if (routers != null && !ms.contains("moice"))
            throw new MoiceException("--moice " + routers + " conflicts with --method " + String.join(",", ms));
        if (abBases != null) {
            if (!ms.contains("ab")) throw new MoiceException("--ab-bases needs --method ab");
            if (abBases.isEmpty()) throw new MoiceException("--ab-bases: expected at least one base");
            for (double b : abBases)
                if (!(b > 0) || Double.isInfinite(b))
                    throw new MoiceException("--ab-bases: every base must be a positive number, got " + b);
        }
        if ((mspoeMin != null || mspoeMax != null || mspoeGroupRatios) && !ms.contains("mspoe"))
            throw new MoiceException("--mspoe-min/--mspoe-max/--mspoe-group-ratios need --method mspoe");
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

    /**
     * The routers MoICE runs with: those of {@code --moice}, validated against the model, else the model's built-in
     * ones; an error when there are neither.
     */
    Routers routers(ModelConfig config, Optional<Routers> builtIn) {
        if (routers != null) return RouterFile.read(routers, config.numLayers(), config.headDim());
        return builtIn.orElseThrow(() -> new MoiceException("--method moice needs --moice ROUTERS"));
    }

    /** The attention variant of a single-pass method; Attention Buckets has none. */
    private AttentionVariant attention(Model model, Optional<Routers> builtIn, String m) {
        ModelConfig c = model.config();
        return switch (m) {
            case "vanilla" -> model.vanilla();
            case "moice" -> MoiceAttention.create(model.attentionShape(), routers(c, builtIn), c.ropeScaling(),
                    c.maxPositions());
            case "mspoe" -> new MsPoeAttention(model.attentionShape(), c.numLayers(), c.ropeTheta(), c.ropeScaling(),
                    c.maxPositions(), mspoeMin(), mspoeMax(), mspoeGroupRatios);
            default -> throw new IllegalArgumentException("no single attention variant for method " + m);
        };
    }

    /** Sessions running {@link #method(LoadedModel)} on the model. */
    InferenceSession.Factory sessions(LoadedModel m) {
        return sessions(m.model(), m.builtInRouters(), method(m));
    }

    /**
     * Sessions running method {@code m} (one of {@link #methods}) on {@code model}, whose built-in MoICE routers, if
     * any, are {@code builtIn}.
     */
    InferenceSession.Factory sessions(Model model, Optional<Routers> builtIn, String m) {
        if (m.equals("ab")) {
            double[] bases = abBases != null ? abBases.stream().mapToDouble(Double::doubleValue).toArray()
                    : AttentionBuckets.retrievalQaBases(model.config().ropeTheta());
            return new AttentionBuckets(model, bases);
        }
        return InferenceSession.factory(model, attention(model, builtIn, m));
    }
}
