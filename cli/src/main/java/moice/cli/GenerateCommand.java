package moice.cli;

import moice.MoiceException;
import moice.api.ChatMessage;
import moice.api.Completion;
import moice.api.Engine;
import moice.api.GenerateOptions;
import moice.api.Moice;
import moice.api.Session;
import moice.io.download.ModelCache;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/** {@code bin/moice generate}: continue a prompt; only the generated text goes to stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generates text from a prompt. Only the generated text is printed on stdout; speed goes to stderr.",
                "Example: bin/moice generate --model DIR --chat --prompt 'What is RoPE?' --max-tokens 64"})
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    static final class PromptSource {
        @Option(names = "--prompt", description = "Prompt text.")
        String text;

        @Option(names = "--prompt-file", description = "File holding the prompt (UTF-8).")
        Path file;
    }

    @ArgGroup(multiplicity = "1")
    PromptSource prompt;

    @Option(names = "--chat", description = "Wrap the prompt as one user turn with the model's chat template.")
    boolean chat;

    @Option(names = "--system", description = "System message (with --chat).")
    String system;

    @Mixin
    GenerationOptions options;

    @Mixin
    AttentionOptions attention;

    @Override
    public Integer call() {
        String text = prompt.text != null ? prompt.text : readPrompt(prompt.file);
        attention.checkFlags(true); // flag errors before loading the model
        GenerateOptions generation = options.toApi();
        try (Engine engine = Moice.load(ModelCache.resolve(model))) {
            Session session = engine.session(attention.method(engine.model()), options.sessionOptions());
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            Consumer<String> print = s -> {
                out.print(s);
                out.flush();
            };
            Completion c;
            if (chat) {
                List<ChatMessage> messages = new ArrayList<>();
                if (system != null) messages.add(ChatMessage.system(system));
                messages.add(ChatMessage.user(text));
                c = session.chat(messages, generation, print);
            } else {
                if (system != null) throw new MoiceException("--system needs --chat");
                c = session.generate(text, generation, print);
            }
            out.println();
            reportSpeed(c);
        }
        return 0;
    }

    static void reportSpeed(Completion c) {
        System.err.printf(Locale.ROOT, "prefill: %d tokens, %.1f tokens/s; decode: %d tokens, %.1f tokens/s (stop: %s)%n",
                c.promptTokens(), c.prefillTokensPerSecond(), c.generatedTokens(), c.decodeTokensPerSecond(),
                c.stopReason());
    }

    static String readPrompt(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new MoiceException(file + ": the prompt file is not valid UTF-8");
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read the prompt file: " + e.getMessage());
        }
    }
}
