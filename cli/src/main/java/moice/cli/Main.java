package moice.cli;

import moice.MoiceException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code bin/moice}. Commands are thin: they parse flags and call {@code moice.api} (or, where a
 * command says why, the layers below it). A {@link MoiceException}
 * (bad input) prints as one line, exit code 1; a stack trace appears only with {@code --verbose}.
 */
@Command(name = "moice", mixinStandardHelpOptions = true, version = "moice 0.1.0",
        description = "Pure-Java engine for RoPE LLMs with Mixture of In-Context Experts.",
        subcommands = {
                CommandLine.HelpCommand.class,
                DemoCommand.class,
                GenerateCommand.class,
                ChatCommand.class,
                ForwardCommand.class,
                InspectCommand.class,
                BenchCommand.class,
                PullCommand.class,
                ConvertCommand.class,
                TokenizeCommand.class,
                RoutersCommand.class,
                GradCommand.class,
                EvalCommand.class,
                PerplexityCommand.class,
                TrainRoutersCommand.class,
                ServeCommand.class,
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces of errors.")
    boolean verbose;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI in-process and returns the exit code (used by tests). */
    public static int run(String... args) {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            if (ex instanceof MoiceException && !verbose) {
                line.getErr().println("moice: " + ex.getMessage());
            } else {
                ex.printStackTrace(line.getErr());
            }
            return 1;
        });
        return cl.execute(args);
    }
}
