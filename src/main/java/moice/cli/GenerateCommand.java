package moice.cli;

import moice.MoiceException;
import moice.io.LoadedModel;
import moice.io.download.ModelCache;
import moice.model.Generator;
import moice.tokenizer.ChatTemplate;
import moice.tokenizer.StreamDecoder;
import moice.tokenizer.Tokenizer;
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
        try (LoadedModel m = LoadedModel.open(ModelCache.resolve(model))) {
            var sessions = attention.sessions(m);
            Tokenizer tokenizer = m.tokenizer();
            int[] ids;
            if (chat) {
                List<ChatTemplate.Message> messages = new ArrayList<>();
                if (system != null) messages.add(ChatTemplate.Message.system(system));
                messages.add(ChatTemplate.Message.user(text));
                ids = tokenizer.encode(m.chatTemplate().render(messages, true), false);
            } else {
                if (system != null) throw new MoiceException("--system needs --chat");
                ids = tokenizer.encode(text, true);
            }
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            StreamDecoder decoder = tokenizer.newStreamDecoder(true);
            Generator.Result r = Generator.generate(m.config(), sessions, ids, options.sampler(),
                    options.settings(m.stopTokenIds()), streamOf(decoder), s -> {
                        out.print(s);
                        out.flush();
                    });
            out.println();
            reportSpeed(r);
        }
        return 0;
    }

    static Generator.TextStream streamOf(StreamDecoder decoder) {
        return new Generator.TextStream() {
            @Override
            public String push(int id) {
                return decoder.push(id);
            }

            @Override
            public String finish() {
                return decoder.finish();
            }
        };
    }

    static void reportSpeed(Generator.Result r) {
        System.err.printf(Locale.ROOT, "prefill: %d tokens, %.1f tokens/s; decode: %d tokens, %.1f tokens/s (stop: %s)%n",
                r.promptTokens(), r.prefillTokensPerSecond(), r.tokens().length, r.decodeTokensPerSecond(), r.stopReason());
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
