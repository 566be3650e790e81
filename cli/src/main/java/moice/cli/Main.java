package moice.cli;

import moice.MoiceException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.List;

/**
 * Entry point of {@code bin/moice}. Commands are thin: they parse flags and call {@code moice.api} (or, where a
 * command says why, the layers below it). A {@link MoiceException}
 * (bad input) prints as one line, exit code 1; a stack trace appears only with {@code --verbose}.
 */
@Command(name = "moice", mixinStandardHelpOptions = true, version = "moice 0.1.0",
        description = "Pure-Java engine for RoPE LLMs with Mixture of In-Context Experts.")
// the subcommands are added in run(): only the one named on the command line when it is known (see COMMANDS)
public final class Main implements Runnable {
    /** The subcommands, in the order the usage lists them (after {@code help}). */
    static final List<Class<?>> COMMANDS = List.of(
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
            ServeCommand.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The command whose {@code @Command} name or alias is {@code name}, or null. */
    static Class<?> commandNamed(String name) {
        for (Class<?> c : COMMANDS) {
            Command a = c.getAnnotation(Command.class);
            if (a.name().equals(name) || List.of(a.aliases()).contains(name)) return c;
        }
        return null;
    }

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
        // Building picocli's model of a command reflects over all its options and mixins; for all sixteen commands that
        // was about 0.3–0.7 s of a one-shot generate (2 cores). When the first argument names a command, only that
        // one is built: its parsing, help and errors are the same. Anything else (no argument, a top-level option,
        // `help`, an unknown name) gets the full tree so that usage lists every command and picocli suggests names.
        Class<?> named = args.length > 0 ? commandNamed(args[0]) : null;
        if (named != null) {
            cl.addSubcommand(named);
        } else {
            cl.addSubcommand(CommandLine.HelpCommand.class);
            for (Class<?> c : COMMANDS) cl.addSubcommand(c);
        }
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
