package dev.herd.cli;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 13, item 8: Herd started without {@code --add-modules jdk.incubator.vector} (as {@code java -jar herd.jar} is)
 * starts itself again with it. Real processes, with the test classpath standing in for the jar.
 */
class RelaunchTest {
    /** {@code java -cp CLASSPATH dev.herd.cli.Main ARGS} with no module or native-access flag. */
    private static Process bare(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-cp", System.getProperty("java.class.path"), "dev.herd.cli.Main"));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    @Test
    void withoutTheVectorModuleHerdRelaunchesItselfAndPassesTheExitCodeOn() throws Exception {
        Process p = bare("inference", "--model", CliTest.fixture().toString(), "--prompt", "Once upon a time", "--steps", "12", "--temperature", "0");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("Once upon a time, there was a little girl").doesNotContain("NoClassDefFoundError");
        Process bad = bare("inference", "--model", "/no/such/model.gguf", "--prompt", "x", "--steps", "2");
        String err = new String(bad.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(bad.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(bad.exitValue()).isEqualTo(1);
        assertThat(err).contains("herd: /no/such/model.gguf: no such file");
    }

    /** SIGKILL on the process the user started (no shutdown hook runs) still ends the relaunched one. */
    @Test
    void theRelaunchedProcessEndsWhenItsParentIsKilled() throws Exception {
        Process parent = bare("worker", "--host", "127.0.0.1", "--port", "0", "--nthreads", "1");
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
            for (String line; (line = out.readLine()) != null && !line.contains("listening on"); ) {
                // the JVM's incubator warning
            }
            List<ProcessHandle> children = parent.children().toList();
            assertThat(children).hasSize(1);
            parent.destroyForcibly();
            assertThat(children.getFirst().onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
        } finally {
            parent.destroyForcibly();
            parent.children().forEach(ProcessHandle::destroyForcibly);
        }
    }
}
