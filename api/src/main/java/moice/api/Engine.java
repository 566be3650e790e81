package moice.api;

import moice.eval.Scoring;
import moice.load.LoadedModel;
import moice.method.Method;
import moice.method.MethodSpec;
import moice.method.Methods;
import moice.model.ModelConfig;
import moice.tokenizer.ChatTemplate;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A loaded model: memory-mapped weights, tokenizer and chat template (read on first use), shared by all the
 * {@link Session}s opened on it. Made by {@link Moice#load}.
 *
 * <p>Thread-safe: sessions may be opened and run, and text tokenized, from any number of threads at once. Closing
 * unmaps the weights: close only after every session has finished (a session used after {@link #close} fails or
 * reads freed memory).
 */
public final class Engine implements AutoCloseable {
    private final LoadedModel model;
    private final String name;
    private volatile Set<Integer> stopIds;
    private moice.model.DecodeBatcher batcher;

    Engine(LoadedModel model, String name) {
        this.model = model;
        this.name = name;
    }

    /** What the engine was loaded from, as given to {@link Moice#load}. */
    public String name() { return name; }

    /** The model file or directory. */
    public Path path() { return model.path(); }

    /** The model's configuration (layers, heads, vocabulary, rope_theta, context...). */
    public ModelConfig config() { return model.config(); }

    /** The lower-level handle (weights, tokenizer, chat template) for what this API does not cover. */
    public LoadedModel model() { return model; }

    /**
     * The method a spec names on this model, in the one spec syntax of {@link MethodSpec}: {@code vanilla},
     * {@code moice} (an official MoICE checkpoint's routers), {@code moice:ROUTERS.safetensors}, {@code equal[:R1,..]},
     * {@code random[:SEED]}, {@code ab[:B1,..]}, {@code mspoe[:MIN,MAX[,group]]}. Reads a router file when named.
     */
    public Method method(String spec) {
        return MethodSpec.parse(spec, "method").resolve(model.config(), model.builtInRouters(), "method");
    }

    /** What {@code bin/moice} runs without {@code --method}: MoICE with a MoICE checkpoint's own routers, else vanilla. */
    public Method defaultMethod() {
        return model.builtInRouters().<Method>map(r -> new Method.Moice(r, "moice")).orElse(new Method.Vanilla());
    }

    /** A session with the {@link #defaultMethod()}. */
    public Session session() {
        return session(defaultMethod());
    }

    /** A session running the method of {@code spec} (see {@link #method(String)}). */
    public Session session(String spec) {
        return session(method(spec));
    }

    /** A session running {@code method}. */
    public Session session(Method method) {
        return session(method, SessionOptions.DEFAULT);
    }

    /** A session running {@code method} that keeps what {@code options} asks for (e.g. its routing decisions). */
    public Session session(Method method, SessionOptions options) {
        return new Session(this, method,
                Methods.sessions(method, model.model().withKvPrecision(options.kvCache()),
                        new Methods.Options(false, options.recordRouting())), options);
    }

    /** Token ids of {@code text} as HF {@code tokenizer.encode(text)} gives them (special tokens such as BOS added). */
    public int[] tokenize(String text) {
        return tokenize(text, true);
    }

    /** Token ids of {@code text}; {@code addSpecialTokens}: as the tokenizer's post-processor says (e.g. BOS). */
    public int[] tokenize(String text, boolean addSpecialTokens) {
        return model.tokenizer().encode(text, addSpecialTokens);
    }

    /** The text of {@code ids}, special tokens included (HF {@code decode(ids)}). */
    public String detokenize(int[] ids) {
        return model.tokenizer().decode(ids, false);
    }

    /** The prompt tokens of a conversation: the chat template with the generation prompt, encoded. */
    public int[] chatTokens(List<ChatMessage> messages) {
        List<ChatTemplate.Message> turns = messages.stream()
                .map(m -> new ChatTemplate.Message(m.role(), m.content())).toList();
        return model.tokenizer().encode(model.chatTemplate().render(turns, true), false);
    }

    /** Answers a conversation with the {@link #defaultMethod()} in a fresh session. */
    public Completion chat(List<ChatMessage> messages, GenerateOptions options) {
        return session().chat(messages, options);
    }

    /** As {@link #chat(List, GenerateOptions)}, streaming text pieces to {@code onText}. */
    public Completion chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        return session().chat(messages, options, onText);
    }

    /** {@link #logProbs(int[], Method)} with the method of {@code spec}. */
    public double[] logProbs(int[] tokens, String spec) {
        return logProbs(tokens, method(spec));
    }

    /**
     * Log-probabilities of each token given the ones before it, in one forward pass of a fresh session: element
     * {@code i} is {@code log softmax(logits[i])[tokens[i + 1]]} (natural log, computed in double precision from the
     * float logits), so the array has {@code tokens.length - 1} elements. Their sum is the sequence's log-likelihood
     * after its first token.
     */
    public double[] logProbs(int[] tokens, Method method) {
        if (tokens.length < 2) return new double[0];
        Logits logits = session(method).forward(tokens);
        double[] out = new double[tokens.length - 1];
        for (int i = 0; i < out.length; i++)
            out[i] = Scoring.logSoftmax(logits.values(), i * logits.vocab(), logits.vocab(), tokens[i + 1]);
        return out;
    }

    /** Token ids that end generation (config, generation_config.json and the tokenizer's EOS). */
    Set<Integer> stopTokenIds() {
        Set<Integer> ids = stopIds;
        if (ids == null) stopIds = ids = Set.copyOf(model.stopTokenIds());
        return ids;
    }

    /** Most decode steps one batch runs ({@link SessionOptions#batchDecode()}). */
    static final int MAX_DECODE_BATCH = 64;

    /** The engine's one decode batcher, shared by the sessions opened with {@link SessionOptions#batchDecode()}. */
    synchronized moice.model.DecodeBatcher decodeBatcher() {
        if (batcher == null) batcher = new moice.model.DecodeBatcher(model.model(), MAX_DECODE_BATCH);
        return batcher;
    }

    /**
     * {@code {batches, steps, prefillChunks}}: decode batches run so far for sessions opened with
     * {@link SessionOptions#batchDecode()}, the steps in them (steps / batches is the mean batch size), and the prompt
     * chunks those sessions prefilled between batches ({@link SessionOptions#prefillChunk()}); zeros before any.
     */
    public synchronized long[] decodeBatchCounts() {
        return batcher == null ? new long[3] : batcher.counts();
    }

    /** Unmaps the weights; see the class comment. */
    @Override
    public void close() {
        synchronized (this) {
            if (batcher != null) batcher.close();
        }
        model.close();
    }
}
