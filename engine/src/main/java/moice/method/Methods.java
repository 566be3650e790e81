package moice.method;

import moice.attention.AttentionVariant;
import moice.attention.MoiceAttention;
import moice.attention.MsPoeAttention;
import moice.attention.Routers;
import moice.model.InferenceSession;
import moice.model.Model;
import moice.model.ModelConfig;

import java.util.Optional;

/**
 * The one place where a {@link Method} meets a loaded model: the attention variant (immutable, shared by all sessions)
 * and the {@link InferenceSession.Factory} that every command, the eval runner and the benchmark run.
 */
public final class Methods {
    private Methods() {}

    /**
     * Options of the MoICE-family methods (moice, equal, random); ignored by the others.
     *
     * @param rotatedKeyCopies each session keeps one rotated copy of the keys per base (N× key memory, faster decode)
     * @param recordRouting    each session records its routing decisions ({@link MoiceAttention.State#routingLog()})
     */
    public record Options(boolean rotatedKeyCopies, boolean recordRouting) {
        public static final Options DEFAULT = new Options(false, false);
    }

    /** Sessions running {@code method} on {@code model}. */
    public static InferenceSession.Factory sessions(Method method, Model model) {
        return sessions(method, model, Options.DEFAULT);
    }

    /**
     * Sessions running {@code method} on {@code model}: Attention Buckets' ensemble, or one model pass with the
     * method's attention variant. Every session owns its caches and attention state; the model and variant are shared,
     * so sessions of any methods may run concurrently on one model.
     */
    public static InferenceSession.Factory sessions(Method method, Model model, Options options) {
        if (method instanceof Method.AttentionBuckets ab)
            return new moice.model.AttentionBuckets(model, ab.bases() != null ? ab.bases()
                    : moice.model.AttentionBuckets.retrievalQaBases(model.config().ropeTheta()));
        return InferenceSession.factory(model, attention(method, model, options).orElseThrow());
    }

    /**
     * The attention variant of a single-pass method on {@code model}; empty for Attention Buckets (an ensemble of
     * whole-model passes, see {@link #sessions}).
     */
    public static Optional<AttentionVariant> attention(Method method, Model model, Options options) {
        ModelConfig c = model.config();
        return Optional.ofNullable(switch (method) {
            case Method.Vanilla v -> model.vanilla();
            case Method.Moice m -> moice(model, m.routers(), options);
            case Method.EqualWeights e -> moice(model, e.routers(c.headDim(), c.numLayers()), options);
            case Method.RandomRouting r -> moice(model, r.routers(c.headDim(), c.numLayers()), options);
            case Method.MsPoe p -> new MsPoeAttention(model.attentionShape(), c.numLayers(), c.ropeTheta(),
                    c.ropeScaling(), c.maxPositions(), p.min(), p.max(), p.groupRatios());
            case Method.AttentionBuckets ab -> null;
        });
    }

    /** The routers a MoICE-family method runs with; empty for the others. */
    public static Optional<Routers> routers(Method method, ModelConfig c) {
        return Optional.ofNullable(switch (method) {
            case Method.Moice m -> m.routers();
            case Method.EqualWeights e -> e.routers(c.headDim(), c.numLayers());
            case Method.RandomRouting r -> r.routers(c.headDim(), c.numLayers());
            default -> null;
        });
    }

    private static MoiceAttention moice(Model model, Routers routers, Options options) {
        ModelConfig c = model.config();
        MoiceAttention a = MoiceAttention.create(model.attentionShape(), routers, c.ropeScaling(), c.maxPositions())
                .withRotatedKeyCopies(options.rotatedKeyCopies());
        return options.recordRouting() ? a.recordingRouting() : a;
    }
}
