package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.Stories15M;
import dev.herd.engine.Generator;
import dev.herd.engine.Sampler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** A worker process killed mid-generation: the root stops with an error that names it. */
public class LostWorkerTest {
    @TempDir
    Path dir;

    /** Starts {@code herd worker} in its own JVM on a free loopback port; returns the process and its port. */
    public static Process startWorker(int[] port) throws IOException {
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

    /**
     * Runs the stories15M model on the root and the given worker processes, kills {@code victim} after 5 tokens and
     * returns the root's error.
     */
    private Throwable killDuringGeneration(List<Process> workers, List<Integer> ports, Process victim) throws Exception {
        Path model = Stories15M.f32(dir); // F32: Q8_0 does not split on 2 nodes
        try (LocalCluster.Run run = new LocalCluster.Run(model, ports.stream().map(p -> "127.0.0.1:" + p).toList(), null, SyncCodec.Q80, 128)) {
            Generator generator = new Generator(run.llama, Sampler.greedy(run.llama.vocab()));
            int[] seen = new int[1];
            Throwable error = catchThrowable(() -> generator.generate(new int[]{1}, 0, 100, (token, nanos) -> {
                if (++seen[0] == 5) {
                    victim.destroyForcibly();
                    try {
                        victim.waitFor(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                }
            }));
            assertThat(seen[0]).as("tokens before the failure").isEqualTo(5);
            return error;
        } finally {
            workers.forEach(Process::destroyForcibly);
        }
    }

    @Test
    void killedWorkerIsNamedInTheRootsError() throws Exception {
        int[] port = new int[1];
        Process worker = startWorker(port);
        assertThat(killDuringGeneration(List.of(worker), List.of(port[0]), worker))
                .isInstanceOf(HerdException.class).hasMessageContaining("lost worker 127.0.0.1:" + port[0]);
    }

    /** Three nodes in a mesh: the last worker dies; the root's error names it, whichever node noticed first. */
    @Test
    void killedPeerOfAMeshIsNamedInTheRootsError() throws Exception {
        int[] first = new int[1], second = new int[1];
        Process one = startWorker(first), two = startWorker(second);
        assertThat(killDuringGeneration(List.of(one, two), List.of(first[0], second[0]), two))
                .isInstanceOf(HerdException.class).hasMessageContaining("127.0.0.1:" + second[0]);
    }
}
