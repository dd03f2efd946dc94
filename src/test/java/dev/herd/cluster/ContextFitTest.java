package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.Stories15M;
import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.HfConverter;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.convert.WeightTypes;
import dev.herd.engine.KvCache;
import dev.herd.engine.Model;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 13, item 2: the root sizes the context with what each worker reports in its handshake, and refuses a context
 * a worker cannot hold before it sends any weight, naming the node and the numbers. The worker here is a stand-in on a
 * real loopback socket that speaks the real handshake, reports a small machine, and records what the root sends.
 */
class ContextFitTest {
    @TempDir
    Path dir;

    /** Completes the handshake reporting {@code capacity}, then records every message until the root closes. */
    private static CompletableFuture<List<Message>> smallWorker(ServerSocket server, Budget.Capacity capacity) {
        return CompletableFuture.supplyAsync(() -> {
            List<Message> got = new ArrayList<>();
            try (Socket s = server.accept(); Wire w = new Wire(s, "root")) {
                w.timeout(30_000);
                Handshake.ready(w, Handshake.asWorker(w, null, w.receive(Handshake.MAX_HELLO)), null, capacity, 0);
                while (true) {
                    Message m = w.receive(Wire.MAX_FRAME);
                    if (m.type() != Message.PING) got.add(m);
                    if (m.type() == Message.PLAN || m.type() == Message.BYE) return got; // closing fails the root's load
                }
            } catch (Exception e) {
                return got;
            }
        });
    }

    /** Bytes of node 1's slice of a 2-node split, and of its KV cache per position. */
    private static long[] slice(Path model) {
        try (GgufFile f = GgufFile.open(model)) {
            ModelConfig c = GgufConfig.read(f);
            SplitPlan plan = SplitPlan.of(c, List.of(GgmlType.F32), List.of(GgmlType.F32), 2);
            long weights = plan.parts(c, 1, false).stream().mapToLong(p -> p.bytes(GgmlType.F32)).sum();
            ModelConfig local = plan.local(c, 1);
            return new long[]{weights, KvCache.bytesPerPosition(local.layers(), local.kvHeads(), local.headDim())};
        }
    }

    private static List<Message> open(Path model, int maxSeqLen, Budget.Capacity capacity, ByteArrayOutputStream log) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<List<Message>> worker = smallWorker(server, capacity);
            try (ClusterRunner runner = new ClusterRunner(List.of("127.0.0.1:" + server.getLocalPort()), null, SyncCodec.F32,
                    new PrintStream(log, true, StandardCharsets.UTF_8))) {
                assertThatThrownBy(() -> Model.open(model, null, maxSeqLen, 1, runner).close()).isInstanceOf(HerdException.class)
                        .satisfies(e -> log.write((e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8)));
            }
            return worker.get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void aContextTheWorkerCannotHoldIsRefusedBeforeAnyWeightNamingTheNodeAndTheNumbers() throws Exception {
        Path model = Stories15M.f32(dir); // 256 positions of context
        long[] slice = slice(model);
        Budget.Capacity room100 = new Budget.Capacity((512L << 20) + slice[0] + 100 * slice[1] + slice[1] / 2, 1L << 40);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<Message> got = open(model, 256, room100, log);
        assertThat(got).as("nothing but the end of the session").extracting(Message::type).containsOnly(Message.BYE);
        String error = log.toString(StandardCharsets.UTF_8).lines().reduce((a, b) -> b).orElseThrow();
        assertThat(error).startsWith("node 1 (worker 127.0.0.1:").contains("cannot hold a context of 256 positions")
                .containsPattern("weights [0-9]+ MiB \\+ KV cache [0-9]+ MiB").contains("at most 100 positions fit there")
                .contains("lower --max-seq-len");
    }

    @Test
    void theDefaultContextIsWhatTheSmallestNodeHolds() throws Exception {
        Path model = Stories15M.f32(dir);
        long[] slice = slice(model);
        Budget.Capacity room100 = new Budget.Capacity((512L << 20) + slice[0] + 100 * slice[1] + slice[1] / 2, 1L << 40);
        List<Message> got = open(model, 0, room100, new ByteArrayOutputStream());
        assertThat(got).extracting(Message::type).startsWith(Message.PLAN);
        assertThat(PlanMessage.decode(got.getFirst()).maxSeqLen()).isEqualTo(100);
    }

    /**
     * Q6_K slices count as the worker holds them, repacked into Herd's larger layout (its own check counts
     * them so): a Q4_K_M of 1024-wide rows (random weights, no tokenizer: the root's sizing alone), room for 100
     * positions beside the repacked slice. Counted as sent, the root planned more positions than the worker accepts.
     */
    @Test
    void theDefaultContextCountsKQuantSlicesAsTheWorkerHoldsThem() throws Exception {
        Path f32 = dir.resolve("wide-f32.gguf"), model = dir.resolve("wide-q4_k_m.gguf");
        RandomModel.write(HfConverter.config(Path.of(ContextFitTest.class.getResource("/models/kq-wide-config.json").toURI())),
                GgmlType.F32, f32, 5, Map.of(), Progress.NONE);
        GgufRequantizer.convert(f32, model, WeightTypes.parse("q4_k_m"), Map.of(), Progress.NONE);
        long held = 0, perPosition;
        try (GgufFile f = GgufFile.open(model)) {
            ModelConfig c = GgufConfig.read(f);
            List<GgmlType> o = new ArrayList<>(), down = new ArrayList<>();
            for (int l = 0; l < c.layers(); l++) {
                o.add(f.tensors().get("blk." + l + ".attn_output.weight").type());
                down.add(f.tensors().get("blk." + l + ".ffn_down.weight").type());
            }
            SplitPlan plan = SplitPlan.of(c, o, down, 2);
            for (SplitPlan.Part p : plan.parts(c, 1, false)) held += Worker.loadedBytes(p, f.tensors().get(p.name()).type());
            ModelConfig local = plan.local(c, 1);
            perPosition = KvCache.bytesPerPosition(local.layers(), local.kvHeads(), local.headDim());
        }
        Budget.Capacity room100 = new Budget.Capacity((512L << 20) + held + 100 * perPosition + perPosition / 2, 1L << 40);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            smallWorker(server, room100);
            try (ClusterRunner runner = new ClusterRunner(List.of("127.0.0.1:" + server.getLocalPort()), null, SyncCodec.F32,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
                 GgufFile f = GgufFile.open(model)) {
                assertThat(runner.positionsThatFit(f, GgufConfig.read(f))).isEqualTo(100);
            }
        }
    }

    @Test
    void aWorkerThatCannotHoldItsWeightsIsNamedWithTheDefaultContextToo() throws Exception {
        Path model = Stories15M.f32(dir);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<Message> got = open(model, 0, new Budget.Capacity(520L << 20, 1L << 40), log);
        assertThat(got).extracting(Message::type).containsOnly(Message.BYE);
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("node 1 (worker 127.0.0.1:")
                .contains("not even its weights fit: add nodes or use a smaller model");
    }
}
