package dev.herd;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A test class's main in a JVM of its own, for what only a fresh JVM shows (its heap, the code C2 compiles in it). */
public final class ChildJvm {
    private ChildJvm() {}

    /** Runs {@code main} with {@code flags}, this JVM's class path and {@code args}; returns its output (stdout and stderr). */
    public static String output(List<String> flags, Class<?> main, int timeoutSeconds, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(flags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes());
        }
        assertThat(p.waitFor(timeoutSeconds, TimeUnit.SECONDS)).as("%s ended within %d s", main.getSimpleName(), timeoutSeconds).isTrue();
        return out;
    }
}
