package dev.herd.cli;

import dev.herd.Stories15M;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.SyncCodec;
import dev.herd.engine.Model;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 13, item 4, the worker's flags in a real `herd worker` process: by default its slices go to
 * $XDG_CACHE_HOME/herd/slices; with --no-slice-cache nothing is written anywhere under the cache home.
 */
class SliceCacheFlagsTest {
    @TempDir
    static Path models;
    static Path stories;

    @TempDir
    Path dir;

    @BeforeAll
    static void model() {
        stories = Stories15M.f32(models); // splits on 2 nodes
    }

    /** `herd worker ARGS` on a free loopback port, with XDG_CACHE_HOME set to {@code cacheHome}. */
    private static Process worker(Path cacheHome, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.herd.cli.Main", "worker", "--host", "127.0.0.1", "--port", "0",
                "--nthreads", "1"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("XDG_CACHE_HOME", cacheHome.toString());
        return pb.start();
    }

    /** Loads the model on this root and the worker, once it listens. */
    private void runOn(Process worker) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(worker.getInputStream()));
        Pattern listening = Pattern.compile("listening on /127\\.0\\.0\\.1:(\\d+)");
        StringBuilder seen = new StringBuilder();
        for (String l; (l = out.readLine()) != null; ) {
            seen.append(l).append('\n');
            Matcher m = listening.matcher(l);
            if (!m.find()) continue;
            Thread.ofPlatform().daemon().start(() -> { // keep draining until the process ends
                try {
                    out.transferTo(Writer.nullWriter());
                } catch (IOException ended) {
                    // the stream closes with the process
                }
            });
            try (ClusterRunner runner = new ClusterRunner(List.of("127.0.0.1:" + m.group(1)), null, SyncCodec.F32,
                    new PrintStream(PrintStream.nullOutputStream()));
                 Model model = Model.open(stories, null, 64, 1, runner)) {
                assertThat(runner.stats().streamed()).isGreaterThan(20 << 20);
            }
            return;
        }
        throw new AssertionError("the worker ended before listening:\n" + seen);
    }

    private static List<Path> files(Path root) throws IOException {
        if (!Files.exists(root)) return List.of();
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).toList();
        }
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void byDefaultTheSlicesGoUnderTheCacheHome() throws Exception {
        Path home = dir.resolve("cache-home");
        Process w = worker(home);
        try {
            runOn(w);
        } finally {
            stop(w);
        }
        assertThat(files(home)).isNotEmpty().allMatch(f -> f.startsWith(home.resolve("herd/slices"))
                && f.getFileName().toString().matches("[0-9]+\\.slice"));
    }

    @Test
    void noSliceCacheWritesNothing() throws Exception {
        Path home = dir.resolve("cache-home");
        Process w = worker(home, "--no-slice-cache", "--slice-cache", home.resolve("chosen").toString());
        try {
            runOn(w);
        } finally {
            stop(w);
        }
        assertThat(files(home)).isEmpty();
        assertThat(home.resolve("herd/slices")).doesNotExist();
        assertThat(home.resolve("chosen")).doesNotExist();
    }
}
