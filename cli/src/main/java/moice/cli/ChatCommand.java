package moice.cli;

import moice.api.ChatMessage;
import moice.api.Completion;
import moice.api.Engine;
import moice.api.GenerateOptions;
import moice.api.Moice;
import moice.api.Session;
import moice.io.download.ModelCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code bin/moice chat}: an interactive multi-turn conversation with the model's chat template. */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"Interactive multi-turn chat. Type a message and press Enter; /reset starts over, /exit (or end of input) quits.",
                "Example: bin/moice chat --model DIR --system 'You are concise.' [--moice routers.safetensors | --method ab|mspoe]"})
public final class ChatCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory, .gguf file, or the name of a pulled model.")
    String model;

    @Option(names = "--system", description = "System message for the conversation.")
    String system;

    @Mixin
    GenerationOptions options;

    @Mixin
    AttentionOptions attention;

    @Override
    public Integer call() throws IOException {
        attention.checkFlags(true); // flag errors before loading the model
        GenerateOptions generation = options.toApi();
        try (Engine engine = Moice.load(ModelCache.resolve(model))) {
            Session session = engine.session(attention.method(engine.model()), options.sessionOptions());
            engine.model().chatTemplate(); // no template: fail before the first prompt
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            List<ChatMessage> history = new ArrayList<>();
            if (system != null) history.add(ChatMessage.system(system));
            int systemTurns = history.size();
            while (true) {
                System.err.print("> ");
                System.err.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.strip().equals("/reset")) {
                    history.subList(systemTurns, history.size()).clear();
                    System.err.println("(conversation reset)");
                    continue;
                }
                if (line.isBlank()) continue;
                history.add(ChatMessage.user(line));
                Completion c = session.chat(history, generation, s -> {
                    out.print(s);
                    out.flush();
                });
                out.println();
                GenerateCommand.reportSpeed(c);
                history.add(ChatMessage.assistant(c.text()));
            }
        }
        return 0;
    }
}
