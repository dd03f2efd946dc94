package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.engine.Generator;
import dev.herd.engine.Sampler;
import dev.herd.format.Llama2cCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A worker process killed mid-generation: the root stops with an error that names it. */
class LostWorkerTest {
    @TempDir
    Path dir;

    /** Starts {@code herd worker} in its own JVM on a free loopback port; returns the process and its port. */
    static Process startWorker(int[] port) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                "dev.herd.cli.Main", "worker", "--host", "127.0.0.1", "--port", "0").redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
        Pattern listening = Pattern.compile("listening on /127\\.0\\.0\\.1:(\\d+)");
        for (String line; (line = out.readLine()) != null; ) {
            Matcher m = listening.matcher(line);
            if (m.find()) {
                port[0] = Integer.parseInt(m.group(1));
                Thread.ofPlatform().daemon().start(() -> out.lines().forEach(l -> {})); // keep draining its output
                return p;
            }
        }
        throw new AssertionError("the worker process exited before listening");
    }

    @Test
    void killedWorkerIsNamedInTheRootsError() throws Exception {
        Path model = dir.resolve("stories15M-f32.gguf");
        Llama2cCheckpoint.convert(Shared.model("stories15M.bin"), model, Map.of());
        int[] port = new int[1];
        Process worker = startWorker(port);
        try (LocalCluster.Run run = new LocalCluster.Run(model, List.of("127.0.0.1:" + port[0]), null, SyncCodec.Q80, 128)) {
            Generator generator = new Generator(run.llama, Sampler.greedy(run.llama.vocab()));
            int[] seen = new int[1];
            assertThatThrownBy(() -> generator.generate(new int[]{1}, 0, 100, (token, nanos) -> {
                if (++seen[0] == 5) {
                    worker.destroyForcibly();
                    try {
                        worker.waitFor(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                }
            })).isInstanceOf(HerdException.class).hasMessageContaining("lost worker 127.0.0.1:" + port[0]);
            assertThat(seen[0]).isEqualTo(5);
        } finally {
            worker.destroyForcibly();
        }
    }

    /** Three nodes in a mesh: the last worker dies; the root's error names it, whichever node noticed first. */
    @Test
    void killedPeerOfAMeshIsNamedInTheRootsError() throws Exception {
        Path model = dir.resolve("stories15M-f32.gguf");
        Llama2cCheckpoint.convert(Shared.model("stories15M.bin"), model, Map.of());
        int[] first = new int[1], second = new int[1];
        Process one = startWorker(first), two = startWorker(second);
        try (LocalCluster.Run run = new LocalCluster.Run(model, List.of("127.0.0.1:" + first[0], "127.0.0.1:" + second[0]), null, SyncCodec.Q80, 128)) {
            Generator generator = new Generator(run.llama, Sampler.greedy(run.llama.vocab()));
            int[] seen = new int[1];
            assertThatThrownBy(() -> generator.generate(new int[]{1}, 0, 100, (token, nanos) -> {
                if (++seen[0] == 5) {
                    two.destroyForcibly();
                    try {
                        two.waitFor(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                }
            })).isInstanceOf(HerdException.class).hasMessageContaining("127.0.0.1:" + second[0]);
            assertThat(seen[0]).isEqualTo(5);
        } finally {
            one.destroyForcibly();
            two.destroyForcibly();
        }
    }
}
