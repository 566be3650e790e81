package moice.cli;

import moice.MoiceException;
import moice.load.LoadedModel;
import moice.method.Method;
import moice.method.MethodFlags;
import moice.method.MethodSpec;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code --method} / {@code --moice} flags (and the baselines' parameters) shared by commands that run the model.
 * {@code --method} takes the method spec syntax of {@link MethodSpec}; the other flags are sugar that fill in a spec's
 * arguments ({@code --moice R} = {@code moice:R}, {@code --ab-bases B..} = {@code ab:B..}, {@code --mspoe-*} =
 * {@code mspoe:MIN,MAX[,group]}). The flags become {@link Method} values here; sessions are made from them only by
 * {@code moice.api.Engine#session} or, for bench, by {@code moice.method.Methods}: no command builds an attention
 * variant itself.
 */
final class AttentionOptions {
    @Option(names = "--moice", paramLabel = "ROUTERS",
            description = "MoICE router checkpoint (.safetensors); implies --method moice and overrides a MoICE "
                    + "checkpoint's built-in routers.")
    Path routers;

    @Option(names = "--method", paramLabel = "METHOD",
            description = "Attention: vanilla, moice (needs --moice or a MoICE checkpoint), moice:ROUTERS, "
                    + "equal[:R1,..] (all bases weighted 1/N; ratios of rope_theta, default 1,1.75,1.8,1.9,2,2.25,2.5), "
                    + "random[:SEED] (fixed random routers), ab[:B1,..] (Attention Buckets) or mspoe[:MIN,MAX[,group]] "
                    + "(Ms-PoE); default: moice with --moice or a MoICE checkpoint, else vanilla.")
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
     * {@code oneMethod}: the command runs a single method, so a list is an error.
     */
    void checkFlags(boolean oneMethod) {
        if (oneMethod) checkOneMethod();
        specs(true);
    }

    /** The single method chosen for {@code m}, checked against the other flags and the model's built-in routers. */
    Method method(LoadedModel m) {
        checkOneMethod();
        return specs(m.builtInRouters().isPresent()).get(0).resolve(m.config(), m.builtInRouters(), "--method");
    }

    private void checkOneMethod() {
        if (method != null && MethodSpec.parseList(method, "--method").size() > 1)
            throw new MoiceException("--method: one method expected here, got '" + method + "'");
    }

    /**
     * The methods of a comma-separated {@code --method} (bench compares several), each with the other flags applied;
     * without {@code --method}: moice with --moice or with a model that has built-in routers ({@code builtInRouters}),
     * else vanilla.
     */
    List<MethodSpec> specs(boolean builtInRouters) {
        boolean moiceAvailable = routers != null || builtInRouters;
        List<MethodSpec> given = method == null
                ? List.of(MethodSpec.parse(moiceAvailable ? "moice" : "vanilla", "--method"))
                : MethodSpec.parseList(method, "--method");
        String list = String.join(",", given.stream().map(MethodSpec::label).toList());
        boolean anyMoice = false, anyAb = false, anyMsPoe = false;
        List<MethodSpec> out = new ArrayList<>();
        for (MethodSpec s : given) {
            switch (s.kind()) {
                case MOICE -> {
                    anyMoice = true;
                    if (s.routers() != null && routers != null)
                        throw new MoiceException("--moice " + routers + " conflicts with --method " + s.label());
                    if (s.routers() == null && routers != null) s = s.withRouters(routers);
                    else if (s.routers() == null && !builtInRouters)
                        throw new MoiceException("--method moice needs --moice ROUTERS (the model has no built-in MoICE routers)");
                }
                case AB -> anyAb = true;
                case MSPOE -> anyMsPoe = true;
                default -> { }
            }
            out.add(MethodFlags.withBaselineFlags(s, abBases, mspoeMin, mspoeMax, mspoeGroupRatios, "--method"));
        }
        if (routers != null && !anyMoice) throw new MoiceException("--moice " + routers + " conflicts with --method " + list);
        if (abBases != null && !anyAb) throw new MoiceException("--ab-bases needs --method ab");
        if ((mspoeMin != null || mspoeMax != null || mspoeGroupRatios) && !anyMsPoe)
            throw new MoiceException("--mspoe-min/--mspoe-max/--mspoe-group-ratios need --method mspoe");
        return out;
    }
}
