package dev.herd.cli;

import dev.herd.HerdException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/** The {@code herd} command: one jar, every mode a subcommand. Errors are one line unless --verbose. */
@Command(name = "herd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Distributed LLM inference in Java.",
        subcommands = {DemoCommand.class, InferenceCommand.class, ChatCommand.class, ApiCommand.class, WorkerCommand.class,
                PerplexityCommand.class, ConvertCommand.class, PlanCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT, description = "Print stack traces of errors.")
    boolean verbose;

    public static void main(String[] args) throws Exception {
        if (Relaunch.needed()) System.exit(Relaunch.run(args)); // java -jar herd.jar, without --add-modules
        Relaunch.followParent();
        System.exit(run(args));
    }

    public static int run(String... args) {
        return command().execute(args);
    }

    static CommandLine command() {
        Main main = new Main();
        CommandLine cl = new CommandLine(main);
        cl.setParameterExceptionHandler((e, args) -> {
            PrintWriter err = e.getCommandLine().getErr();
            String name = e.getCommandLine().getCommandSpec().qualifiedName();
            err.println(name + ": " + e.getMessage() + " (see " + name + " --help)");
            return 2;
        });
        cl.setExecutionExceptionHandler((e, command, parsed) -> {
            PrintWriter err = command.getErr();
            if (main.verbose) e.printStackTrace(err);
            String message = e instanceof HerdException ? e.getMessage()
                    : "internal error: " + e + (main.verbose ? "" : " (run with --verbose for details)");
            err.println("herd: " + message);
            return 1;
        });
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{"herd " + version()};
        }
    }

    public static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
