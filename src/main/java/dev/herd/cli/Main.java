package dev.herd.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code herd} command: one jar, every mode as a subcommand. */
@Command(name = "herd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Distributed LLM inference in Java.",
        subcommands = {CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"herd " + (v == null ? "dev" : v)};
        }
    }
}
