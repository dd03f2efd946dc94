package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.engine.KvCache;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A worker facing strangers and hostile input: the defects of issue 10 that concern workers and the cluster protocol. */
class WorkerSecurityTest {
    static final byte[] KEY = "k3y".getBytes();

    @TempDir
    static Path dir;
    static Path tiny;

    @BeforeAll
    static void model() {
        tiny = dir.resolve("tiny.gguf");
        RandomModel.write(new ModelConfig(Arch.LLAMA, 64, 128, 2, 4, 2, 16, 256, 256, 1e-5f, 10000, null, false),
                GgmlType.F32, tiny, 5, Map.of(), Progress.NONE);
    }

    /** A root by hand: node 1 of 2 after a handshake with the worker on {@code port}. */
    static Wire root(int port, byte[] key) throws IOException {
        Wire w = new Wire(new Socket(InetAddress.getLoopbackAddress(), port), "worker");
        w.timeout(15_000);
        Handshake.asRoot(w, new byte[32], 1, 2, key, false);
        return w;
    }

    /** The plan of node 1 of 2 for an F32 model of this shape. */
    static PlanMessage plan(ModelConfig c, int seq, boolean kvOnDisk) {
        List<GgmlType> types = SplitPlan.of(c, 1, 2).parts(c, 1, false).stream().map(p -> GgmlType.F32).toList();
        return new PlanMessage(c, 1, 2, List.of(1, 1), 1, seq, SyncCodec.F32, GgmlType.F32, false, types, kvOnDisk, false, List.of("127.0.0.1:1"), new byte[32]);
    }

    static ModelConfig config(int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab, int context) {
        return new ModelConfig(Arch.LLAMA, dim, hidden, layers, heads, kvHeads, headDim, vocab, context, 1e-5f, 10000, headDim, null, false);
    }

    static long weightBytes(ModelConfig c) {
        return SplitPlan.of(c, 1, 2).parts(c, 1, false).stream().mapToLong(p -> p.bytes(GgmlType.F32)).sum();
    }

    /** The worker's answer to the plan: its ERROR text. */
    static String refusal(int port, PlanMessage plan) throws IOException {
        try (Wire w = root(port, null)) {
            w.send(plan.encode());
            Message m = w.receive(1 << 16);
            assertThat(Message.name(m.type())).isEqualTo("ERROR");
            return m.reader().string();
        }
    }

    /** Weights that leave a node without a whole KV head, or out of bounds, are refused in one line; the worker serves on. */
    @Test
    void aPlanWithImpossibleWeightsIsRefused() throws Exception {
        ModelConfig c = config(64, 128, 2, 4, 2, 16, 256, 256);
        List<GgmlType> types = plan(c, 64, false).types();
        for (List<Integer> weights : List.of(List.of(1000, 1), List.of(0, 1))) {
            try (LocalCluster cluster = new LocalCluster(1, null)) {
                PlanMessage bad = new PlanMessage(c, 1, 2, weights, 1, 64, SyncCodec.F32, GgmlType.F32, false, types, false, false,
                        List.of("127.0.0.1:1"), new byte[32]);
                int port = cluster.workers.getFirst().port();
                if (weights.getFirst() == 0) { // a field out of bounds breaks the protocol: the worker hangs up and logs why
                    assertThatThrownBy(() -> refusal(port, bad)).isInstanceOf(HerdException.class).hasMessageContaining("connection closed");
                    for (int i = 0; i < 100 && !cluster.log().contains("listening again"); i++) Thread.sleep(50); // it logs after hanging up
                    assertThat(cluster.log()).contains("the root's plan has an invalid node weight 0 (allowed 1..1000)");
                } else {
                    assertThat(refusal(port, bad)).isEqualTo("cannot split this model by the weights [1000, 1]: node 1's weight 1 is too small to hold"
                            + " a whole KV head and 32 FFN rows");
                }
                try (LocalCluster.Run run = new LocalCluster.Run(tiny, cluster.addresses(), null, SyncCodec.F32, 64)) {
                    assertThat(run.greedy(new int[]{1}, 4)).hasSize(4);
                }
            }
        }
    }

    @Test
    void keylessWorkerRefusesAPlanLargerThanTheAvailableMemory() throws Exception {
        long available = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemAvailable:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")) * 1024).findFirst().orElseThrow();
        ModelConfig one = config(2048, 8192, 1, 16, 8, 128, 32000, 4096), two = config(2048, 8192, 2, 16, 8, 128, 32000, 4096);
        long perLayer = weightBytes(two) - weightBytes(one);
        int layers = (int) Math.min(1024, available / perLayer + 1); // just above what is free now, below the total
        ModelConfig big = config(2048, 8192, layers, 16, 8, 128, 32000, 4096);
        assertThat(weightBytes(big)).isGreaterThan(available);
        try (LocalCluster cluster = new LocalCluster(1, null)) {
            String error = refusal(cluster.workers.getFirst().port(), plan(big, 64, false));
            assertThat(error).contains("MiB of memory").contains("is available on this worker");
            try (LocalCluster.Run run = new LocalCluster.Run(tiny, cluster.addresses(), null, SyncCodec.F32, 64)) {
                assertThat(run.greedy(new int[]{1}, 4)).hasSize(4); // and it still serves a root that fits
            }
        }
    }

    @Test
    void diskKvCachePlanLargerThanTheFreeDiskIsRefused() throws Exception {
        ModelConfig c = config(64, 64, 1024, 4, 4, 16, 256, 1 << 20);
        long kv = 2L * 1024 * (1 << 20) * 32 * 4; // 256 GiB: layers x positions x this node's 2 KV heads of 16 x K and V
        assertThat(kv).isGreaterThan(Files.getFileStore(Files.createDirectories(KvCache.Storage.defaultDir())).getUsableSpace());
        try (LocalCluster cluster = new LocalCluster(1, null)) {
            assertThat(refusal(cluster.workers.getFirst().port(), plan(c, 1 << 20, true)))
                    .contains("needs 262144 MiB of disk for the KV cache").contains("MiB free on this worker (KV cache folder " + KvCache.Storage.defaultDir() + ")");
        }
    }

    @Test
    void aSlowLorisAndTwentyIdleSocketsDoNotKeepTheRootOut() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1, KEY)) {
            int port = cluster.workers.getFirst().port();
            List<Socket> strangers = new ArrayList<>();
            try {
                Socket loris = new Socket(InetAddress.getLoopbackAddress(), port);
                strangers.add(loris);
                Thread trickle = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        OutputStream out = loris.getOutputStream();
                        out.write(new byte[]{0, 0, 0, 64, Message.HELLO}); // a plausible frame, then a byte every 2 s
                        for (int i = 0; i < 30; i++) {
                            Thread.sleep(2000);
                            out.write('H');
                        }
                    } catch (IOException | InterruptedException e) {
                        // closed by the worker or the test
                    }
                });
                Thread.sleep(500); // the loris is first in line
                for (int i = 0; i < 20; i++) strangers.add(new Socket(InetAddress.getLoopbackAddress(), port)); // more than the worker greets at once
                long start = System.nanoTime();
                try (LocalCluster.Run run = new LocalCluster.Run(tiny, cluster.addresses(), KEY, SyncCodec.F32, 64)) {
                    double seconds = (System.nanoTime() - start) / 1e9;
                    assertThat(seconds).as("seconds until the root had its session").isLessThan(4);
                    assertThat(run.greedy(new int[]{1}, 4)).hasSize(4);
                }
                trickle.interrupt();
            } finally {
                for (Socket s : strangers) s.close();
            }
        }
    }

    @Test
    void aRewrittenFrameEndsAKeyedSessionWithAClearError() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1, KEY);
             Tamper relay = new Tamper(cluster.workers.getFirst().port(), Message.PARTIAL, 3)) {
            List<String> via = List.of("127.0.0.1:" + relay.port());
            assertThatThrownBy(() -> {
                try (LocalCluster.Run run = new LocalCluster.Run(tiny, via, KEY, SyncCodec.F32, 64)) {
                    run.greedy(new int[]{1}, 8);
                }
            }).isInstanceOf(HerdException.class).hasMessageContaining("127.0.0.1:" + relay.port())
                    .hasMessageContaining("failed authentication");
            assertThat(relay.rewritten.get()).isEqualTo(1);
        }
    }

    @Test
    void aKeyedMeshOfFourNodesSealsEveryLinkAndGivesTheSameTokens() throws Exception {
        int[] one;
        try (LocalCluster.Run run = new LocalCluster.Run(tiny, List.of(), null, SyncCodec.F32, 64)) {
            one = run.greedy(new int[]{1}, 12);
        }
        try (LocalCluster cluster = new LocalCluster(3, KEY);
             LocalCluster.Run run = new LocalCluster.Run(tiny, cluster.addresses(), KEY, SyncCodec.F32, 64)) {
            assertThat(run.greedy(new int[]{1}, 12)).containsExactly(one);
            assertThat(cluster.log()).contains("mesh of 4 nodes");
        }
    }

    @Test
    void theSameRelayRewritesAKeylessSessionUnnoticed() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1, null);
             Tamper relay = new Tamper(cluster.workers.getFirst().port(), Message.PARTIAL, 3);
             LocalCluster.Run run = new LocalCluster.Run(tiny, List.of("127.0.0.1:" + relay.port()), null, SyncCodec.F32, 64)) {
            assertThat(run.greedy(new int[]{1}, 8)).hasSize(8); // what docs/security.md says a keyless cluster allows
            assertThat(relay.rewritten.get()).isEqualTo(1);
        }
    }

    @Test
    void aKeylessWorkerOnAnOpenAddressSaysInOneLineWhatThatAllows() throws Exception {
        var log = new java.io.ByteArrayOutputStream();
        try (Worker open = new Worker("0.0.0.0", 0, 1, null, new java.io.PrintStream(log, true));
             Worker keyed = new Worker("0.0.0.0", 0, 1, KEY, new java.io.PrintStream(log, true));
             Worker local = new Worker("127.0.0.1", 0, 1, null, new java.io.PrintStream(log, true))) {
            assertThat(log.toString().lines().toList()).singleElement().asString()
                    .startsWith("warning: no cluster key: anyone who can reach 0.0.0.0:" + open.port())
                    .contains("session slot").contains("available memory").contains("read or rewrite").contains("--cluster-key-file");
        }
    }

    @Test
    void aNegativeFieldLengthIsAProtocolError() {
        Message m = new Message.Builder(Message.HELLO).i32(-7).build();
        assertThatThrownBy(() -> m.reader().bytes(64)).isInstanceOf(Wire.ProtocolException.class)
                .hasMessageContaining("negative length -7");
    }

    @Test
    void aForwardPastTheKvCacheIsRefusedEvenWhenPosPlusNOverflows() throws Exception {
        ModelConfig c = config(64, 128, 2, 4, 2, 16, 256, 256);
        PlanMessage plan = plan(c, 64, false);
        try (LocalCluster cluster = new LocalCluster(1, null); Wire w = root(cluster.workers.getFirst().port(), null)) {
            w.send(plan.encode());
            List<SplitPlan.Part> parts = SplitPlan.of(c, 1, 2).parts(c, 1, false);
            for (int i = 0; i < parts.size(); i++) {
                w.send(new Message.Builder(Message.WEIGHTS).i32(i).i64(0).raw(java.lang.foreign.MemorySegment.ofArray(new byte[(int) parts.get(i).bytes(GgmlType.F32)])).build());
            }
            w.send(Message.of(Message.LOADED));
            assertThat(Message.name(w.receive(1 << 16).type())).isEqualTo("HAVE"); // no slice cache: none
            assertThat(Message.name(w.receive(0).type())).isEqualTo("LOADED");
            // one row, no logits, a run; the row's region starts where base + pos overflows
            Message.Builder forward = new Message.Builder(Message.FORWARD).i32(1).i32(0).i32(0).i32(Integer.MAX_VALUE).i32(1);
            forward.raw(java.lang.foreign.MemorySegment.ofArray(new byte[64 * 4]));
            w.send(forward.build());
            assertThatThrownBy(() -> w.receive(1 << 16)).hasMessageContaining("connection closed");
            for (int i = 0; i < 100 && !cluster.log().contains("outside the KV cache"); i++) Thread.sleep(50);
            assertThat(cluster.log()).contains("bad forward request: position 1 of the region at 2147483647 is outside the KV cache of 64 positions");
        }
    }

    /**
     * A relay that passes bytes both ways but flips one payload byte of the {@code nth} frame of {@code type} it
     * sees from the worker to the root, as an attacker on the path would.
     */
    static final class Tamper implements AutoCloseable {
        final AtomicInteger rewritten = new AtomicInteger();
        private final ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
        private final List<Socket> sockets = new ArrayList<>();

        Tamper(int workerPort, int type, int nth) throws IOException {
            Thread.ofPlatform().daemon().start(() -> {
                try (Socket root = server.accept(); Socket worker = new Socket(InetAddress.getLoopbackAddress(), workerPort)) {
                    synchronized (sockets) {
                        sockets.add(root);
                        sockets.add(worker);
                    }
                    Thread up = Thread.ofPlatform().daemon().start(() -> copy(root, worker));
                    frames(worker.getInputStream(), root.getOutputStream(), type, nth);
                    up.join();
                } catch (IOException | InterruptedException e) {
                    // the session ended
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        private static void copy(Socket from, Socket to) {
            try (InputStream in = from.getInputStream()) {
                in.transferTo(to.getOutputStream());
            } catch (IOException e) {
                // one side closed
            }
        }

        private void frames(InputStream from, OutputStream to, int type, int nth) throws IOException {
            DataInputStream in = new DataInputStream(from);
            DataOutputStream out = new DataOutputStream(to);
            for (int seen = 0; ; ) {
                int length = in.readInt();
                byte[] frame = new byte[length];
                in.readFully(frame);
                if (frame[0] == type && ++seen == nth && length > 1) {
                    frame[1] ^= 0x01;
                    rewritten.incrementAndGet();
                }
                out.writeInt(length);
                out.write(frame);
                out.flush();
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            synchronized (sockets) {
                for (Socket s : sockets) s.close();
            }
        }
    }
}
