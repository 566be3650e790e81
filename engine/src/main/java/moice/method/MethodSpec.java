package moice.method;

import moice.MoiceException;
import moice.attention.Routers;
import moice.io.RouterFile;
import moice.model.ModelConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One attention method as written on the command line (and, later, in HTTP requests), checked for syntax but not yet
 * bound to a model: {@link #resolve} turns it into a {@link Method} once the model (its rope_theta, layer count and
 * built-in routers) is known. The one spec syntax:
 * <ul>
 * <li>{@code vanilla}</li>
 * <li>{@code moice}: the built-in routers of an official MoICE checkpoint; {@code moice:PATH}: a router file</li>
 * <li>{@code equal[:R1,R2,..]}: all bases mixed 1/N, no router; bases are ratios × rope_theta (default the official
 *     1,1.75,1.8,1.9,2,2.25,2.5)</li>
 * <li>{@code random[:SEED]}: MoICE with fixed random routers, normal(0, 0.02), K = N = 7 official bases (seed
 *     default {@value Method#DEFAULT_RANDOM_SEED})</li>
 * <li>{@code ab[:B1,B2,..]}: Attention Buckets over absolute bases (default the retrieval-QA set scaled by
 *     rope_theta/10000)</li>
 * <li>{@code mspoe[:MIN,MAX[,group]]}: Ms-PoE ratios (default 1.2,1.8), {@code group}: KV-head ratios</li>
 * </ul>
 * Method names are case-insensitive. In a comma-separated list ({@link #parseList}) a piece that is not a method name
 * continues the arguments of the method before it, so {@code vanilla,ab:10000,20000,mspoe} is three methods.
 *
 * @param label        the spec as written (name in lower case), used to label results
 * @param kind         which method
 * @param routers      {@code moice:PATH}'s file; null for the built-in routers (and other kinds)
 * @param values       equal: base ratios; ab: bases; mspoe: {min, max}; null = the default
 * @param seed         random: the router seed
 * @param groupRatios  mspoe: KV-head ratios
 */
public record MethodSpec(String label, Kind kind, Path routers, double[] values, long seed, boolean groupRatios) {
    /** The methods, by spec name. */
    public enum Kind {
        VANILLA, MOICE, EQUAL, RANDOM, AB, MSPOE;

        /** The name in specs. */
        public String specName() { return name().toLowerCase(Locale.ROOT); }

        static Kind named(String name) {
            for (Kind k : values()) if (k.specName().equals(name)) return k;
            return null;
        }
    }

    /** What a spec may look like, for error messages. */
    public static final String SYNTAX = "vanilla, moice, moice:ROUTERS.safetensors, equal[:R1,R2,..], random[:SEED], "
            + "ab[:B1,B2,..] or mspoe[:MIN,MAX[,group]]";

    public MethodSpec {
        values = values == null ? null : values.clone();
    }

    @Override
    public double[] values() { return values == null ? null : values.clone(); }

    /**
     * Parses one spec; errors ({@link MoiceException}) start with {@code flag} (the option it came from, e.g.
     * {@code --method}).
     */
    public static MethodSpec parse(String spec, String flag) {
        String s = spec.strip();
        int colon = s.indexOf(':');
        String name = (colon < 0 ? s : s.substring(0, colon)).strip().toLowerCase(Locale.ROOT);
        Kind kind = Kind.named(name);
        if (kind == null)
            throw new MoiceException(flag + ": unknown " + (flag.equals("--methods") ? "method" : "attention method")
                    + " '" + s + "'; expected " + SYNTAX);
        String arg = colon < 0 ? null : s.substring(colon + 1).strip();
        String label = arg == null ? name : name + ":" + arg;
        if (arg != null && arg.isEmpty()) throw new MoiceException(flag + ": " + label + " has nothing after the colon");
        return switch (kind) {
            case VANILLA -> {
                if (arg != null) throw new MoiceException(flag + ": vanilla takes no arguments, got '" + s + "'");
                yield new MethodSpec(label, kind, null, null, 0, false);
            }
            case MOICE -> new MethodSpec(label, kind, arg == null ? null : Path.of(arg), null, 0, false);
            case EQUAL, AB -> new MethodSpec(label, kind, null, arg == null ? null : positives(arg, label, flag), 0,
                    false);
            case RANDOM -> {
                long seed = Method.DEFAULT_RANDOM_SEED;
                if (arg != null) {
                    try {
                        seed = Long.parseLong(arg);
                    } catch (NumberFormatException e) {
                        throw new MoiceException(flag + ": " + label + ": the seed must be an integer, got '" + arg + "'");
                    }
                }
                yield new MethodSpec(label, kind, null, null, seed, false);
            }
            case MSPOE -> {
                if (arg == null) yield new MethodSpec(label, kind, null, null, 0, false);
                List<String> parts = new ArrayList<>(Arrays.asList(arg.split(",", -1)));
                boolean group = parts.size() == 3 && parts.get(2).strip().equalsIgnoreCase("group");
                if (group) parts.remove(2);
                if (parts.size() != 2)
                    throw new MoiceException(flag + ": " + label + ": expected mspoe:MIN,MAX or mspoe:MIN,MAX,group");
                double[] minMax = positives(String.join(",", parts), label, flag);
                if (!(minMax[1] >= minMax[0]))
                    throw new MoiceException(flag + ": " + label + ": expected 0 < min <= max, got " + minMax[0]
                            + " and " + minMax[1]);
                yield new MethodSpec(label, kind, null, minMax, 0, group);
            }
        };
    }

    /**
     * Parses a comma-separated list of specs (a piece that is not a method name continues the previous spec's
     * arguments); an empty piece is an error, as is a method listed twice (same label).
     */
    public static List<MethodSpec> parseList(String list, String flag) {
        List<String> specs = new ArrayList<>();
        for (String piece : list.split(",", -1)) {
            String p = piece.strip();
            int colon = p.indexOf(':');
            String name = (colon < 0 ? p : p.substring(0, colon)).strip().toLowerCase(Locale.ROOT);
            boolean continues = !specs.isEmpty() && specs.getLast().contains(":") && Kind.named(name) == null
                    && !p.isEmpty();
            if (continues) specs.set(specs.size() - 1, specs.getLast() + "," + p);
            else specs.add(p);
        }
        List<MethodSpec> out = new ArrayList<>();
        for (String s : specs) {
            MethodSpec spec = parse(s, flag);
            if (out.stream().anyMatch(x -> x.label().equals(spec.label())))
                throw new MoiceException(flag + ": '" + spec.label() + "' is listed twice");
            out.add(spec);
        }
        return out;
    }

    private static double[] positives(String csv, String label, String flag) {
        String[] parts = csv.split(",", -1);
        double[] v = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                v[i] = Double.parseDouble(parts[i].strip());
            } catch (NumberFormatException e) {
                throw new MoiceException(flag + ": " + label + ": '" + parts[i].strip() + "' is not a number");
            }
            if (!(v[i] > 0) || Double.isInfinite(v[i]))
                throw new MoiceException(flag + ": " + label + ": every value must be a positive number, got " + v[i]);
        }
        return v;
    }

    /** This spec with other values (equal ratios, ab bases, mspoe {min, max}); the label stays. */
    public MethodSpec withValues(double[] newValues) {
        return new MethodSpec(label, kind, routers, newValues, seed, groupRatios);
    }

    /** This MoICE spec reading its routers from {@code file}; the label stays. */
    public MethodSpec withRouters(Path file) {
        return new MethodSpec(label, kind, file, values, seed, groupRatios);
    }

    /** This Ms-PoE spec with KV-head ratios on or off; the label stays. */
    public MethodSpec withGroupRatios(boolean group) {
        return new MethodSpec(label, kind, routers, values, seed, group);
    }

    /**
     * The method on a model of {@code config} whose built-in MoICE routers, if any, are {@code builtIn}: reads a
     * {@code moice:PATH} router file (checked against the model), turns base ratios into bases. Errors start with
     * {@code flag}.
     */
    public Method resolve(ModelConfig config, Optional<Routers> builtIn, String flag) {
        return switch (kind) {
            case VANILLA -> new Method.Vanilla();
            case MOICE -> {
                if (routers != null)
                    yield new Method.Moice(RouterFile.read(routers, config.numLayers(), config.headDim()), label);
                yield new Method.Moice(builtIn.orElseThrow(() -> new MoiceException(flag + " " + label
                        + ": the model has no built-in MoICE routers; give moice:ROUTERS.safetensors")), label);
            }
            case EQUAL -> {
                double theta = config.ropeTheta();
                yield new Method.EqualWeights(values == null ? Method.officialBases(theta)
                        : Arrays.stream(values).map(r -> r * theta).toArray());
            }
            case RANDOM -> new Method.RandomRouting(Method.officialBases(config.ropeTheta()),
                    Method.OFFICIAL_BASE_RATIOS.size(), seed);
            case AB -> new Method.AttentionBuckets(values);
            case MSPOE -> values == null ? new Method.MsPoe(Method.MsPoe.DEFAULT.min(), Method.MsPoe.DEFAULT.max(),
                    groupRatios) : new Method.MsPoe(values[0], values[1], groupRatios);
        };
    }
}
