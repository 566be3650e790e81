package moice.method;

import moice.MoiceException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The flags that fill in method arguments (the CLI's {@code --ab-bases}, {@code --mspoe-*}, {@code --bases},
 * {@code --base-ratios}), shared by the command line and the Java API ({@code moice.api}) so that both accept the same
 * values with the same errors. Stateless; safe from any thread.
 */
public final class MethodFlags {
    private MethodFlags() {}

    /**
     * The methods of a {@code --methods} list (eval, perplexity): one spec syntax ({@link MethodSpec}), with
     * {@code abBases} and the Ms-PoE values (null / false: not given) filling in ab's and mspoe's arguments.
     */
    public static List<MethodSpec> methodList(List<String> methods, List<Double> abBases, Double mspoeMin,
                                              Double mspoeMax, boolean mspoeGroupRatios) {
        List<MethodSpec> specs = new ArrayList<>();
        for (MethodSpec s : MethodSpec.parseList(String.join(",", methods), "--methods"))
            specs.add(withBaselineFlags(s, abBases, mspoeMin, mspoeMax, mspoeGroupRatios, "--methods"));
        if (abBases != null && specs.stream().noneMatch(s -> s.kind() == MethodSpec.Kind.AB))
            throw new MoiceException("--ab-bases needs method ab in --methods");
        if ((mspoeMin != null || mspoeMax != null || mspoeGroupRatios)
                && specs.stream().noneMatch(s -> s.kind() == MethodSpec.Kind.MSPOE))
            throw new MoiceException("--mspoe-min/--mspoe-max/--mspoe-group-ratios need method mspoe in --methods");
        return specs;
    }

    /**
     * {@code spec} with the baselines' flags applied: {@code abBases} to an {@code ab} without bases,
     * {@code mspoeMin/mspoeMax/mspoeGroupRatios} to an {@code mspoe} without arguments (null / false: not given); a
     * spec that has its own arguments conflicts with the flag. {@code flag}: where the spec came from.
     */
    public static MethodSpec withBaselineFlags(MethodSpec spec, List<Double> abBases, Double mspoeMin, Double mspoeMax,
                                               boolean mspoeGroupRatios, String flag) {
        if (spec.kind() == MethodSpec.Kind.AB && abBases != null) {
            if (spec.values() != null) throw new MoiceException("--ab-bases conflicts with " + flag + " " + spec.label());
            if (abBases.isEmpty()) throw new MoiceException("--ab-bases: expected at least one base");
            for (double b : abBases)
                if (!(b > 0) || Double.isInfinite(b))
                    throw new MoiceException("--ab-bases: every base must be a positive number, got " + b);
            return spec.withValues(abBases.stream().mapToDouble(Double::doubleValue).toArray());
        }
        if (spec.kind() == MethodSpec.Kind.MSPOE) {
            if (mspoeMin != null || mspoeMax != null) {
                if (spec.values() != null)
                    throw new MoiceException("--mspoe-min/--mspoe-max conflict with " + flag + " " + spec.label());
                double lo = mspoeMin != null ? mspoeMin : Method.MsPoe.DEFAULT.min();
                double hi = mspoeMax != null ? mspoeMax : Method.MsPoe.DEFAULT.max();
                if (!(lo > 0) || !(hi >= lo) || Double.isInfinite(hi))
                    throw new MoiceException("--mspoe-min/--mspoe-max: expected 0 < min <= max, got " + lo + " and " + hi);
                spec = spec.withValues(new double[]{lo, hi});
            }
            if (mspoeGroupRatios) spec = spec.withGroupRatios(true);
        }
        return spec;
    }

    /**
     * Router bases from {@code --bases} (absolute) or {@code --base-ratios} (multiples of {@code theta}); exactly one of
     * the two arrays is non-null. Every base must be positive and appear once.
     */
    public static double[] resolveBases(double[] absolute, double[] ratios, double theta) {
        String flag = absolute != null ? "--bases" : "--base-ratios";
        double[] given = absolute != null ? absolute : ratios;
        double[] bases = new double[given.length];
        Set<Double> seen = new HashSet<>();
        for (int i = 0; i < given.length; i++) {
            if (!(given[i] > 0) || Double.isInfinite(given[i]))
                throw new MoiceException(flag + ": element " + (i + 1) + " (" + given[i] + ") is not positive");
            bases[i] = absolute != null ? given[i] : theta * given[i];
            if (!seen.add(bases[i])) throw new MoiceException(flag + ": element " + (i + 1) + " repeats an earlier base");
        }
        return bases;
    }
}
