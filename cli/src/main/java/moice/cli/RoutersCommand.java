package moice.cli;

import moice.MoiceException;
import moice.api.Engine;
import moice.api.Moice;
import moice.attention.Routers;
import moice.io.RouterFile;
import moice.io.download.ModelCache;
import moice.method.MethodFlags;
import moice.model.ModelConfig;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice routers}: create and inspect MoICE router checkpoints. A checkpoint is a file format
 * ({@link RouterFile}) over {@link Routers} tensors, below the API on purpose (the API deals in methods, not router
 * tensors), so this command uses those two directly; the model is loaded through the API for its shape.
 */
@Command(name = "routers", mixinStandardHelpOptions = true,
        description = "Create (init) and inspect (show) MoICE router checkpoints.",
        subcommands = {RoutersCommand.Init.class, RoutersCommand.Show.class})
public final class RoutersCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    /** Official initialisation: every gate weight drawn from normal(0, 0.02). */
    @Command(name = "init", mixinStandardHelpOptions = true,
            description = {"Writes fresh routers for a model: gate weights ~ normal(0, std), bases and top-K in the metadata.",
                    "Example: bin/moice routers init --model DIR --base-ratios 1,1.75,1.8,1.9,2,2.25,2.5 --top-k 7 --out r.safetensors"})
    static final class Init implements Callable<Integer> {
        @Option(names = "--model", required = true, description = "Model directory, .gguf file, or a pulled model's name.")
        String model;

        static final class BaseChoice {
            @Option(names = "--bases", split = ",", description = "RoPE bases, comma-separated (the first rotates the router input).")
            double[] bases;

            @Option(names = "--base-ratios", split = ",", description = "Bases as multiples of the model's rope_theta.")
            double[] ratios;
        }

        @ArgGroup(multiplicity = "1")
        BaseChoice baseChoice;

        @Option(names = "--top-k", required = true, description = "Experts kept per token and head.")
        int topK;

        @Option(names = "--seed", defaultValue = "0", description = "Random seed (default ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--std", defaultValue = "0.02", description = "Standard deviation of the weights (default ${DEFAULT-VALUE}, the official one).")
        double std;

        @Option(names = "--out", required = true, description = "Output .safetensors file (written atomically).")
        Path out;

        @Override
        public Integer call() {
            if (!(std >= 0) || Double.isInfinite(std)) throw new MoiceException("--std " + std + ": expected a finite value >= 0");
            try (Engine engine = Moice.load(ModelCache.resolve(model))) {
                ModelConfig c = engine.config();
                double[] bases = bases(c.ropeTheta());
                if (topK < 1 || topK > bases.length)
                    throw new MoiceException("--top-k " + topK + ": expected an integer in [1, " + bases.length + "] (number of bases)");
                Routers r = Routers.random(bases, topK, c.headDim(), c.numLayers(), std, seed);
                RouterFile.write(r, out);
                System.err.printf(Locale.ROOT, "routers: %d layers, %d bases, top-%d, %d parameters per layer -> %s%n",
                        r.numLayers(), r.numExperts(), r.topK(), r.parametersPerLayer(), out);
            }
            return 0;
        }

        private double[] bases(double theta) {
            return MethodFlags.resolveBases(baseChoice.bases, baseChoice.ratios, theta);
        }
    }

    /** Prints what a checkpoint holds. */
    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Prints a router checkpoint's bases, top-K, shapes and per-layer weight norms.")
    static final class Show implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "ROUTERS", description = "Router checkpoint (.safetensors).")
        Path file;

        @Override
        public Integer call() {
            Routers r = RouterFile.read(file);
            int n = r.numExperts(), d = r.headDim();
            System.out.println("file: " + file);
            System.out.println("bases: " + Arrays.toString(r.bases()));
            System.out.println("top_k: " + r.topK());
            System.out.printf(Locale.ROOT, "layers: %d; per layer gate_1 [%d, %d], gate_2 [%d, %d], gate_3 [%d, %d]"
                    + " (%d parameters)%n", r.numLayers(), n, d, n, n, n, d, r.parametersPerLayer());
            System.out.println("layer  |gate_1|  |gate_2|  |gate_3|   (Frobenius norms)");
            for (int l = 0; l < r.numLayers(); l++)
                System.out.printf(Locale.ROOT, "%5d  %8.4f  %8.4f  %8.4f%n", l, norm(r.gate1()[l]), norm(r.gate2()[l]),
                        norm(r.gate3()[l]));
            return 0;
        }

        static double norm(float[] w) {
            double s = 0;
            for (float v : w) s += (double) v * v;
            return Math.sqrt(s);
        }
    }

}
