package dev.herd.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code java -jar herd.jar} without the flags the engine needs: a manifest can enable native access
 * ({@code Enable-Native-Access}) but cannot add the incubating Vector API module, so the jar starts itself again with
 * {@code --add-modules jdk.incubator.vector} (and the caller's JVM flags), passes its exit code on, stops it when
 * stopped, and the child stops if this process is killed.
 */
final class Relaunch {
    static final String CHILD = "herd.relaunched";

    private Relaunch() {}

    /** Whether this JVM lacks the Vector API and is not itself a relaunch (which would then fail with the JVM's error). */
    static boolean needed() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty() && System.getProperty(CHILD) == null;
    }

    static int run(String[] args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-D" + CHILD + "=" + ProcessHandle.current().pid()));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        Process child = new ProcessBuilder(command).inheritIO().start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> { // Ctrl-C or SIGTERM: the child ends as it would alone
            child.destroy();
            try {
                child.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        return child.waitFor();
    }

    /** In a relaunched child: exits when the parent is gone (killed with SIGKILL, its hook never ran). */
    static void followParent() {
        String parent = System.getProperty(CHILD);
        if (parent == null) return;
        ProcessHandle.of(Long.parseLong(parent)).ifPresentOrElse(p -> p.onExit().thenRun(() -> System.exit(1)), () -> System.exit(1));
    }
}
