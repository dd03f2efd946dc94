package dev.herd.cli;

import dev.herd.Stories15M;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.SyncCodec;
import dev.herd.engine.KvCache;
import dev.herd.engine.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
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
 * Issue 13, item 3: a disk KV cache lives under --kv-cache-dir and leaves nothing there when its process is killed
 * with SIGKILL, on the root and on a worker (real processes: the file loses its name as soon as it is mapped).
 */
class KvCacheCleanupTest {
    @TempDir
    Path dir;

    /** {@code herd ARGS} in its own JVM with the test classpath; stderr and stdout merged. */
    private static Process herd(String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.herd.cli.Main"));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    /** Reads the process's output until a line matches; returns the match. */
    private static Matcher await(Process p, Pattern line) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
        StringBuilder seen = new StringBuilder();
        for (String l; (l = out.readLine()) != null; ) {
            seen.append(l).append('\n');
            Matcher m = line.matcher(l);
            if (m.find()) {
                Thread.ofPlatform().daemon().start(() -> out.lines().forEach(x -> {})); // keep draining
                return m;
            }
        }
        throw new AssertionError("the process ended before printing " + line + ":\n" + seen);
    }

    /** The process maps a KV cache file of {@code kvDir} that has no name left. */
    private static void assertMapsADeletedFileOf(Process p, Path kvDir) throws IOException {
        assertThat(Files.readAllLines(Path.of("/proc/" + p.pid() + "/maps")))
                .anySatisfy(l -> assertThat(l).contains(kvDir + "/herd-kv-").endsWith("(deleted)"));
        try (Stream<Path> files = Files.list(kvDir)) {
            assertThat(files).isEmpty();
        }
    }

    private static void kill(Process p) throws InterruptedException {
        p.destroyForcibly(); // SIGKILL: no shutdown hook, no finally
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(137);
    }

    @Test
    void aRootKilledWithSigkillLeavesNoFile() throws Exception {
        Path kvDir = dir.resolve("kv");
        Process chat = herd("chat", "--model", Stories15M.q8().toString(), "--system", "", "--kv-cache-storage", "disk",
                "--kv-cache-dir", kvDir.toString());
        try {
            await(chat, Pattern.compile("context \\d+ tokens"));
            assertMapsADeletedFileOf(chat, kvDir);
            kill(chat);
            try (Stream<Path> files = Files.list(kvDir)) {
                assertThat(files).isEmpty();
            }
        } finally {
            chat.destroyForcibly();
        }
    }

    @Test
    void aWorkerKilledWithSigkillLeavesNoFile() throws Exception {
        Path kvDir = dir.resolve("worker-kv");
        Process worker = herd("worker", "--host", "127.0.0.1", "--port", "0", "--nthreads", "1", "--kv-cache-dir", kvDir.toString());
        try {
            int port = Integer.parseInt(await(worker, Pattern.compile("listening on /127\\.0\\.0\\.1:(\\d+)")).group(1));
            Path model = Stories15M.f32(dir); // splits on 2 nodes
            try (ClusterRunner runner = new ClusterRunner(List.of("127.0.0.1:" + port), null, SyncCodec.Q80,
                    new KvCache.Storage(dir.resolve("root-kv")), new PrintStream(PrintStream.nullOutputStream()));
                 Model m = Model.open(model, null, 64, 1, runner)) {
                assertThat(m.llama.maxSeqLen()).isEqualTo(64);
                assertMapsADeletedFileOf(worker, kvDir);
                kill(worker);
            }
            try (Stream<Path> files = Files.list(kvDir)) {
                assertThat(files).isEmpty();
            }
        } finally {
            worker.destroyForcibly();
        }
    }
}
