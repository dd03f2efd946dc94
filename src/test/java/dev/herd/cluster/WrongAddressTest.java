package dev.herd.cluster;

import com.sun.net.httpserver.HttpServer;
import dev.herd.HerdException;
import dev.herd.api.ApiServer;
import dev.herd.api.Backend;
import dev.herd.engine.Model;
import dev.herd.Stories15M;
import dev.herd.engine.Generator;
import dev.herd.engine.Sampler;
import dev.herd.format.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Issue 13, item 7: a worker address that leads somewhere else says what is there and what to do, and a frozen worker
 * is detected in seconds. Real servers and processes on loopback.
 */
class WrongAddressTest {
    @TempDir
    Path dir;

    private static HerdException connect(String address, Cluster.Timeouts timeouts) {
        try (GgufFile f = GgufFile.open(Stories15M.q8())) {
            return (HerdException) catchThrowable(() -> Cluster.connect(List.of(address), f, null, timeouts, new PrintStream(PrintStream.nullOutputStream())).close());
        }
    }

    /**
     * The API's port given as a worker's: was "frame of 1213486160 bytes exceeds the limit of 4097". The API answers
     * 400 when the binary HELLO happens to hold a line end (its nonce is random), else 408 after its header timeout.
     */
    @Test
    void herdsOwnApiServerIsNamedAsAnHttpServer() throws Exception {
        ApiServer api = ApiServer.start(() -> {
            Model m = Model.open(Stories15M.q8(), null, 0, 1);
            return new Backend(m, m::close);
        }, new ApiServer.Options("127.0.0.1", 0, null, 4, 0));
        try {
            String address = "127.0.0.1:" + api.port();
            assertThat(connect(address, Cluster.Timeouts.DEFAULT)).hasMessageStartingWith("worker " + address + " is an HTTP server, not a Herd worker")
                    .hasMessageFindingMatch("it answered 'HTTP/1.1 40[08] (Bad Request|Request Timeout)'").hasMessageContaining("herd worker");
        } finally {
            api.close();
        }
    }

    /** A server that waits for a request line, as most HTTP servers do, is a program that did not answer. */
    @Test
    void aSilentServerIsNamedAsNotAnswering() throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.start();
        try {
            String address = "127.0.0.1:" + http.getAddress().getPort();
            assertThat(connect(address, Cluster.Timeouts.DEFAULT)).hasMessageStartingWith("worker " + address + " did not answer Herd's handshake")
                    .hasMessageContaining("is it `herd worker`, and not another program on that port?");
        } finally {
            http.stop(0);
        }
    }

    @Test
    void anotherProgramIsNamedByWhatItSent() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = server.accept()) {
                    s.getOutputStream().write("SSH-2.0-OpenSSH_9.6\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.getInputStream().readAllBytes();
                } catch (Exception ignored) {
                    // the root hung up
                }
            });
            String address = "127.0.0.1:" + server.getLocalPort();
            assertThat(connect(address, Cluster.Timeouts.DEFAULT)).hasMessage("worker " + address + " is not a Herd worker: it sent 'SSH-2.0-OpenSSH_9.6'");
        }
    }

    /** Nothing listening: retried for the connect timeout (a worker may be starting), then one line saying what to do. */
    @Test
    void nothingListeningIsRetriedForTheConnectTimeoutThenExplained() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        long start = System.nanoTime();
        HerdException e = connect("127.0.0.1:" + port, new Cluster.Timeouts(1_500, 10_000));
        assertThat(e).hasMessageStartingWith("nothing listens on worker 127.0.0.1:" + port).hasMessageContaining("herd worker --port " + port)
                .hasMessageContaining("--connect-timeout-ms");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(1_400), Duration.ofSeconds(30));
    }

    /** A root that goes silent after its handshake is dropped after the worker's --root-timeout-ms, not the default 30 s. */
    @Test
    void aSilentRootIsDroppedAfterTheWorkersRootTimeout() throws Exception {
        try (Worker worker = new Worker("127.0.0.1", 0, 1, null, new PrintStream(PrintStream.nullOutputStream())).rootTimeout(6_000)) {
            Thread.ofPlatform().daemon().start(worker::serve);
            try (Wire root = WorkerSecurityTest.root(worker.port(), null)) {
                root.timeout(60_000);
                long start = System.nanoTime();
                Throwable gone = catchThrowable(() -> {
                    while (true) root.receive(); // the worker's pings while it waits, then its end of the session
                });
                assertThat(gone).isNotNull();
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(5_500), Duration.ofSeconds(20));
            }
        }
        try (Worker worker = new Worker("127.0.0.1", 0, 1, null, new PrintStream(PrintStream.nullOutputStream()))) {
            assertThatThrownBy(() -> worker.rootTimeout(5_999)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** A worker stopped with SIGSTOP mid-generation: lost within the worker timeout, not after 120 s. */
    @Test
    void aFrozenWorkerIsLostWithinTheWorkerTimeout() throws Exception {
        int[] port = new int[1];
        Process worker = LostWorkerTest.startWorker(port);
        try (GgufFile f = GgufFile.open(Stories15M.f32(dir))) {
            ClusterRunner runner = new ClusterRunner(List.of("127.0.0.1:" + port[0]), null, SyncCodec.Q80, new PrintStream(PrintStream.nullOutputStream()))
                    .timeouts(new Cluster.Timeouts(10_000, 6_000));
            try (runner; var llama = runner.build(f, dev.herd.format.GgufConfig.read(f), 128, 1)) {
                Generator generator = new Generator(llama, Sampler.greedy(llama.vocab()));
                long[] frozeAt = new long[1];
                int[] seen = new int[1];
                Throwable error = catchThrowable(() -> generator.generate(new int[]{1}, 0, 100, (token, nanos) -> {
                    if (++seen[0] == 3) {
                        stop(worker, "-STOP");
                        frozeAt[0] = System.nanoTime();
                    }
                }));
                assertThat(error).isInstanceOf(HerdException.class).hasMessageContaining("lost worker 127.0.0.1:" + port[0])
                        .hasMessageContaining("6000 ms");
                assertThat(Duration.ofNanos(System.nanoTime() - frozeAt[0])).isLessThan(Duration.ofSeconds(40));
            }
        } finally {
            stop(worker, "-CONT");
            worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static void stop(Process p, String signal) {
        try {
            new ProcessBuilder("kill", signal, String.valueOf(p.pid())).start().waitFor(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
