package dev.rlhf.launcher;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code rlhf} command: model tools, training stages and (later) the embedded RLHF loop. */
@Command(name = "rlhf", mixinStandardHelpOptions = true, versionProvider = BuildVersion.class,
        scope = CommandLine.ScopeType.INHERIT, // every subcommand's --version is the build's too
        description = "Online RLHF for LLaMA-2-style models: create, train, and sample models.",
        subcommands = {
            InitModelCommand.class,
            TokenizerCommand.class,
            PretrainCommand.class,
            SftCommand.class,
            GenerateCommand.class,
            LogitsCommand.class,
            MergeAdapterCommand.class,
            ImportModelCommand.class,
            ScoreCommand.class,
            PromptsCommand.class,
            PreferencesCommand.class,
            DeadLetterCommand.class,
            UpCommand.class,
            DemoCommand.class,
            TrainRmCommand.class,
            RsCommand.class,
            PpoCommand.class,
            ConfigCommand.class,
            CommandLine.HelpCommand.class
        })
public final class RlhfCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (0 ok, 1 failure, 2 bad usage). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new RlhfCommand());
        cli.setParameterExceptionHandler((ex, a) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println(ex.getCommandLine().getCommandName() + ": " + ex.getMessage()
                    + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((ex, c, parseResult) -> {
            PrintWriter err = c.getErr();
            // One line for the user; the stack trace only when asked for.
            err.println(c.getCommandSpec().qualifiedName() + ": error: " + oneLine(ex));
            if (System.getenv("RLHF_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            return 1;
        });
        return cli.execute(args);
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            m = e.getClass().getSimpleName();
        }
        return m.replace('\n', ' ');
    }
}
