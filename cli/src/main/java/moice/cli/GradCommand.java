package moice.cli;

import moice.MoiceException;
import moice.attention.Routers;
import moice.load.LoadedModel;
import moice.io.RouterFile;
import moice.io.TokenIds;
import moice.io.download.ModelCache;
import moice.train.ModelObjective;
import moice.train.RouterGradients;
import moice.train.RouterObjective;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice grad}: the router gradients of the training loss on one token sequence. Below the API on purpose:
 * it exposes training internals ({@link ModelObjective}, {@link RouterGradients}) so that they can be checked against
 * PyTorch's autograd; Java users train with {@code moice.api.Moice#trainRouters}.
 */
@Command(name = "grad", mixinStandardHelpOptions = true,
        description = {"Writes, under the router tensor names (float32, the router file's shapes), the gradient of "
                + "mean next-token cross-entropy over all positions + C·L_aux (docs/method.md) with respect to every router "
                + "weight; the frozen model runs forward and backward once. Metadata: moice.loss, moice.ce, "
                + "moice.aux, moice.bases, moice.top_k.",
                "Example: bin/moice grad --model DIR --moice routers.safetensors --tokens ids.json --aux-coef 0.3 --out grads.safetensors"})
public final class GradCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    @Option(names = "--moice", paramLabel = "ROUTERS",
            description = "Router checkpoint (.safetensors); may be left out for a MoICE checkpoint with built-in routers.")
    Path routersFile;

    @Option(names = "--tokens", required = true, description = "JSON array of at least 2 token ids.")
    Path tokens;

    @Option(names = "--aux-coef", defaultValue = "0", description = "Weight C of the load-balancing loss (default ${DEFAULT-VALUE}; official training uses 0.3).")
    double auxCoef;

    @Option(names = "--out", required = true, description = "Output .safetensors file (written atomically).")
    Path out;

    @Override
    public Integer call() {
        if (!Double.isFinite(auxCoef) || auxCoef < 0)
            throw new MoiceException("--aux-coef: expected a finite number >= 0, got " + auxCoef);
        int[] ids = TokenIds.read(tokens);
        if (ids.length < 2) throw new MoiceException(tokens + ": a loss needs at least 2 tokens, got " + ids.length);
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            var c = m.config();
            Routers routers = routersFile != null ? RouterFile.read(routersFile, c.numLayers(), c.headDim())
                    : m.builtInRouters().orElseThrow(() -> new MoiceException("grad needs --moice ROUTERS (the model has no built-in MoICE routers)"));
            RouterGradients grads = RouterGradients.zerosLike(routers);
            long t0 = System.nanoTime();
            RouterObjective.Loss loss = new ModelObjective(m.model()).evaluate(ids, null, routers, auxCoef, grads, 1f);
            System.err.printf(Locale.ROOT, "grad: %d tokens, loss %.6f (ce %.6f, aux %.6f), |grad| %.3e, %.2f s%n",
                    ids.length, loss.total(), loss.ce(), loss.aux(), grads.norm(), (System.nanoTime() - t0) / 1e9);
            Routers asFile = new Routers(routers.bases(), routers.topK(), routers.headDim(), grads.gate1(),
                    grads.gate2(), grads.gate3());
            RouterFile.writer(asFile)
                    .metadata("moice.loss", Double.toString(loss.total()))
                    .metadata("moice.ce", Double.toString(loss.ce()))
                    .metadata("moice.aux", Double.toString(loss.aux()))
                    .write(out);
        }
        return 0;
    }
}
