package moice.cli;

import moice.MoiceException;
import moice.attention.AttentionVariant;
import moice.attention.MoiceAttention;
import moice.attention.Routers;
import moice.io.LoadedModel;
import moice.io.RouterFile;
import moice.model.ModelConfig;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;

/** The {@code --method} / {@code --moice} flags shared by commands that run the model. */
final class AttentionOptions {
    @Option(names = "--moice", paramLabel = "ROUTERS",
            description = "MoICE router checkpoint (.safetensors); implies --method moice.")
    Path routers;

    @Option(names = "--method", paramLabel = "METHOD",
            description = "Attention: vanilla or moice (default: moice with --moice, else vanilla).")
    String method;

    /** The chosen method, checked against the other flags. */
    String method() {
        String m = method == null ? (routers != null ? "moice" : "vanilla") : method.toLowerCase(Locale.ROOT);
        switch (m) {
            case "vanilla" -> {
                if (routers != null) throw new MoiceException("--moice " + routers + " conflicts with --method vanilla");
            }
            case "moice" -> {
                if (routers == null) throw new MoiceException("--method moice needs --moice ROUTERS");
            }
            default -> throw new MoiceException("--method: unknown attention method '" + method
                    + "'; expected vanilla or moice");
        }
        return m;
    }

    /** The routers of {@code --moice}, validated against the model; null for vanilla. */
    Routers loadRouters(ModelConfig config) {
        if (!method().equals("moice")) return null;
        return RouterFile.read(routers, config.numLayers(), config.headDim());
    }

    /** The attention variant to run {@code m} with. */
    AttentionVariant attention(LoadedModel m) {
        Routers r = loadRouters(m.config());
        if (r == null) return m.model().vanilla();
        return MoiceAttention.create(m.model().attentionShape(), r, m.config().ropeScaling(), m.config().maxPositions());
    }
}
