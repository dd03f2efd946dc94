package dev.herd.cluster;

import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.format.GgufFile;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code herd plan}'s total for a worker against the resident memory of a real worker process (Linux's VmHWM), run
 * with the herd script's JVM flags on loopback. The model is random weights written here (203 MB of Q8_0, so that a
 * worker's slice and KV cache, 112 MiB, are not lost in the JVM's own ~140 MiB); the committed models are a few MB.
 */
class PlanMemoryTest {
    /** The herd script's flags (herd, gc=...): the JVM's share of the plan (ClusterPlan.RUNTIME) is measured with them. */
    static final List<String> HERD_FLAGS = List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
            "-XX:+UseParallelGC", "-Xmn64m", "-Xss4m");
    static final int CONTEXT = 2048;
    static final double MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void workerHoldsWhatThePlanSaysWithinTenPercent() throws Exception {
        Path model = dir.resolve("mid-q8_0.gguf");
        RandomModel.write(new ModelConfig(Arch.LLAMA, 1024, 4096, 8, 16, 8, 64, 32000, 4096, 1e-5f, 10000, null, false),
                GgmlType.Q8_0, model, 1, Map.of(), Progress.NONE);
        ClusterPlan.Node planned;
        try (GgufFile h = GgufFile.header(model)) {
            planned = new ClusterPlan(h, 2, CONTEXT, SyncCodec.Q80, 1).nodes().get(1);
        }
        Process worker = startWorker();
        try {
            long idle = status(worker, "VmRSS");
            try (LocalCluster.Run ignored = new LocalCluster.Run(model, List.of("127.0.0.1:" + port), null, SyncCodec.Q80, CONTEXT)) {
                long peak = status(worker, "VmHWM"), loaded = status(worker, "VmRSS");
                System.out.printf("worker: idle %.1f MiB, loaded %.1f MiB, peak %.1f MiB; plan: weights %.1f + KV %.1f + buffers %.1f = %.1f MiB%n",
                        idle / MIB, loaded / MIB, peak / MIB, planned.weights() / MIB, planned.kv() / MIB, planned.buffers() / MIB, planned.total() / MIB);
                assertThat((double) peak).as("worker's peak resident memory against the plan's total of %d bytes", planned.total())
                        .isCloseTo(planned.total(), within(0.1 * planned.total()));
                assertThat(loaded - idle).as("what the session added to the idle worker: at least its weights and KV cache")
                        .isGreaterThanOrEqualTo(planned.weights() + planned.kv());
            }
        } finally {
            worker.destroyForcibly();
        }
    }

    private int port;

    /** {@code herd worker} in its own JVM with the herd script's flags, on a free loopback port. */
    private Process startWorker() throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new java.util.ArrayList<>(List.of(java));
        cmd.addAll(HERD_FLAGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.herd.cli.Main", "worker", "--host", "127.0.0.1",
                "--port", "0", "--nthreads", "1"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
        Pattern listening = Pattern.compile("listening on /127\\.0\\.0\\.1:(\\d+)");
        for (String line; (line = out.readLine()) != null; ) {
            Matcher m = listening.matcher(line);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
                Thread.ofPlatform().daemon().start(() -> out.lines().forEach(l -> {})); // keep draining its output
                return p;
            }
        }
        throw new AssertionError("the worker process exited before listening");
    }

    /** A memory figure of the process's /proc status, in bytes. */
    private static long status(Process p, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
            if (line.startsWith(key + ":")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        throw new AssertionError(key + " is not in /proc/" + p.pid() + "/status");
    }
}
