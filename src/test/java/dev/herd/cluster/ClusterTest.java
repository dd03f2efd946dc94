package dev.herd.cluster;

import dev.herd.format.GgufConfig;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;

import dev.herd.format.GgufFile;

import dev.herd.engine.Llama;

import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.Stories15M;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.engine.Generator;
import dev.herd.engine.KvCache;
import dev.herd.engine.Model;
import dev.herd.engine.Sampler;
import dev.herd.engine.WarmUp;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.herd.Logits.relativeL2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A model split across a root and in-process workers on loopback gives what one node gives: the same greedy tokens
 * with f32 sync (the partial sums are exact; only their summation order differs), and logits within a tolerance with
 * q80 sync (each partial sum and each total is rounded to Q8_0 blocks, two roundings per layer and sync).
 */
class ClusterTest {
    static final int STEPS = 40;
    /**
     * Relative L2 error of q80-synced logits over all positions. Q8_0 rounds each value by up to 1/254 of its block's
     * maximum, twice per sync (partials, then the total), two syncs per layer; the residual stream's outliers make
     * that a few percent at the logits (measured 2-6 %). A wrong slice or a lost partial gives errors of order 1.
     */
    static final double Q80_REL_L2 = 0.1;
    /** Share of positions whose most likely token must agree with one node's despite the q80 rounding. */
    static final double Q80_TOP1 = 0.9;

    @TempDir
    static Path dir;
    static Path stories32, gqa;

    @BeforeAll
    static void models() throws IOException {
        stories32 = Stories15M.f32(dir); // the committed Q8_0 in F32: real trained weights that split on 2, 3 and 6 nodes
        // GQA: 16 query heads over 8 KV heads, head size 32 so one head is a whole Q8_0 block: valid on 1..16 nodes
        gqa = dir.resolve("gqa.gguf");
        RandomModel.write(new ModelConfig(Arch.LLAMA, 512, 512, 2, 16, 8, 32, 384, 256, 1e-5f, 500000, null, false),
                GgmlType.Q8_0, gqa, 3, Map.of(), Progress.NONE);
    }

    static Path fixture() throws URISyntaxException {
        return Path.of(ClusterTest.class.getResource("/models/stories15M-q8_0.gguf").toURI());
    }

    private static int[] greedy(Path model, int nodes, SyncCodec codec) throws IOException {
        try (LocalCluster cluster = new LocalCluster(nodes - 1, null);
             LocalCluster.Run run = new LocalCluster.Run(model, cluster.addresses(), null, codec, 256)) {
            return run.greedy(new int[]{1}, STEPS);
        }
    }

    private static float[] logits(Path model, int nodes, SyncCodec codec, int[] tokens) throws IOException {
        try (LocalCluster cluster = new LocalCluster(nodes - 1, null);
             LocalCluster.Run run = new LocalCluster.Run(model, cluster.addresses(), null, codec, 256)) {
            return run.llama.forward(tokens, 0, false);
        }
    }

    private static void assertClose(float[] actual, float[] expected, int vocab) {
        assertThat(relativeL2(actual, expected)).as("relative L2 error of all logits").isLessThan(Q80_REL_L2);
        int rows = expected.length / vocab, same = 0;
        for (int r = 0; r < rows; r++) if (argmax(actual, r * vocab, vocab) == argmax(expected, r * vocab, vocab)) same++;
        assertThat(same / (double) rows).as("positions whose top token agrees").isGreaterThanOrEqualTo(Q80_TOP1);
    }

    private static int argmax(float[] x, int from, int n) {
        int best = from;
        for (int i = from + 1; i < from + n; i++) if (x[i] > x[best]) best = i;
        return best - from;
    }

    @ParameterizedTest(name = "stories15M f32 on {0} nodes")
    @ValueSource(ints = {2, 3, 6})
    void floatStoriesGivesTheSameTokensOnEveryNodeCount(int nodes) throws IOException {
        int[] one = greedy(stories32, 1, SyncCodec.F32);
        assertThat(greedy(stories32, nodes, SyncCodec.F32)).containsExactly(one);
        int[] tokens = new SplittableRandom(1).ints(24, 0, 32000).toArray();
        assertClose(logits(stories32, nodes, SyncCodec.Q80, tokens), logits(stories32, 1, SyncCodec.F32, tokens), 32000);
    }

    @Test
    void quantizedStoriesRunsOnThreeNodesAndRefusesTwo() throws Exception {
        Path q8 = fixture();
        int[] one = greedy(q8, 1, SyncCodec.F32);
        assertThat(greedy(q8, 3, SyncCodec.F32)).containsExactly(one);
        int[] tokens = new SplittableRandom(2).ints(24, 0, 32000).toArray();
        assertClose(logits(q8, 3, SyncCodec.Q80, tokens), logits(q8, 1, SyncCodec.F32, tokens), 32000);
        assertThatThrownBy(() -> greedy(q8, 2, SyncCodec.Q80)).isInstanceOf(HerdException.class)
                .hasMessageContaining("cannot split this model across 2 nodes").hasMessageContaining("valid node counts: [1, 3]");
    }

    /** Workers given weights (HOST:PORT*W, the root's 1) hold shares in proportion and still compute what one node does. */
    @ParameterizedTest(name = "worker weights {0}")
    @ValueSource(strings = {"3", "1 2", "2 2 1"})
    void unequalWeightsGiveTheSameTokensAsOneNode(String weights) throws Exception {
        String[] w = weights.split(" ");
        Path model = w.length == 1 ? fixture() : stories32; // Q8_0 stories refuses 2 equal nodes, not 1:3
        int[] one = greedy(model, 1, SyncCodec.F32);
        try (LocalCluster cluster = new LocalCluster(w.length, null)) {
            List<String> weighted = new ArrayList<>();
            for (int i = 0; i < w.length; i++) weighted.add(cluster.addresses().get(i) + "*" + w[i]);
            try (LocalCluster.Run run = new LocalCluster.Run(model, weighted, null, SyncCodec.F32, 256)) {
                assertThat(run.greedy(new int[]{1}, STEPS)).containsExactly(one);
            }
        }
    }

    @Test
    void aWeightTooSmallForAWholeHeadIsRefusedByName() throws IOException {
        try (LocalCluster cluster = new LocalCluster(1, null)) {
            assertThatThrownBy(() -> new LocalCluster.Run(stories32, List.of(cluster.addresses().getFirst() + "*1000"), null, SyncCodec.F32, 256))
                    .isInstanceOf(HerdException.class).hasMessage("cannot split this model by the weights [1, 1000]: node 0's weight 1 is too"
                            + " small to hold a whole KV head and 32 FFN rows");
            assertThatThrownBy(() -> new LocalCluster.Run(stories32, List.of(cluster.addresses().getFirst() + "*x"), null, SyncCodec.F32, 256))
                    .isInstanceOf(HerdException.class).hasMessageContaining("a weight must be a whole number from 1 to 1000, not 'x'");
        }
    }

    @ParameterizedTest(name = "GQA model on {0} nodes")
    @ValueSource(ints = {2, 4, 8, 16})
    void groupedQueryModelSplitsUpToAndPastItsKvHeads(int nodes) throws IOException {
        assertThat(greedy(gqa, nodes, SyncCodec.F32)).containsExactly(greedy(gqa, 1, SyncCodec.F32));
        int[] tokens = new SplittableRandom(3).ints(20, 0, 384).toArray();
        assertClose(logits(gqa, nodes, SyncCodec.Q80, tokens), logits(gqa, 1, SyncCodec.F32, tokens), 384);
    }

    @Test
    void workerKeepsServingAfterBadPeersAndALostRoot() throws Exception {
        byte[] key = "k3y".getBytes();
        try (LocalCluster cluster = new LocalCluster(1, key)) {
            String address = cluster.addresses().getFirst();
            int port = cluster.workers.getFirst().port();
            try (var s = new Socket("127.0.0.1", port)) { // random bytes
                byte[] junk = new byte[256];
                new SplittableRandom(4).nextBytes(junk);
                s.getOutputStream().write(junk);
                s.getInputStream().read();
            }
            assertThatThrownBy(() -> new LocalCluster.Run(stories32, List.of(address), "wrong".getBytes(), SyncCodec.Q80, 64))
                    .hasMessageContaining("different cluster key");
            assertThatThrownBy(() -> new LocalCluster.Run(stories32, List.of(address), null, SyncCodec.Q80, 64))
                    .hasMessageContaining("requires a cluster key");
            try (var s = new Socket("127.0.0.1", port); Wire w = new Wire(s, address)) { // a root that vanishes
                Handshake.asRoot(w, new byte[32], 1, 2, key, false);
            }
            try (LocalCluster.Run run = new LocalCluster.Run(stories32, List.of(address), key, SyncCodec.Q80, 64)) {
                assertThat(run.greedy(new int[]{1}, 8)).hasSize(8);
            }
            for (int i = 0; i < 100 && !cluster.log().contains("ended the session"); i++) Thread.sleep(50); // BYE arrives asynchronously
            assertThat(cluster.log()).contains("it broke Herd's protocol (").contains("exceeds the limit")
                    .contains("cluster key mismatch").contains("rejected a root without the cluster key")
                    .contains("connection closed").contains("ended the session");
        }
    }

    @Test
    void kvCacheOnDiskOnEveryNodeGivesTheSameTokens() throws Exception {
        Path q8 = fixture();
        int[] expected = greedy(q8, 1, SyncCodec.F32);
        try (LocalCluster cluster = new LocalCluster(2, null);
             LocalCluster.Run run = new LocalCluster.Run(q8, cluster.addresses(), null, SyncCodec.F32, 256, new KvCache.Storage(dir.resolve("kv")))) {
            assertThat(run.greedy(new int[]{1}, STEPS)).containsExactly(expected);
            assertThat(cluster.log()).contains("KV cache 1.1 MiB on disk");
        }
    }

    @Test
    void distributedLlamaModelFileRunsSplitWithTheSameTokens() throws Exception {
        Path m = Shared.model("tiny_q40.m"), t = Shared.model("tiny.t");
        int[] one;
        try (Model single = Model.open(m, t, 64, 1)) {
            one = new Generator(single.llama, Sampler.greedy(single.llama.vocab())).generate(single.encodePrompt("Hello world"), 0, 24, (x, n) -> {}).tokens();
        }
        try (LocalCluster cluster = new LocalCluster(1, null);
             ClusterRunner runner = new ClusterRunner(cluster.addresses(), null, SyncCodec.F32, new PrintStream(OutputStream.nullOutputStream()));
             Model split = Model.open(m, t, 64, 1, runner)) {
            int[] two = new Generator(split.llama, Sampler.greedy(split.llama.vocab())).generate(split.encodePrompt("Hello world"), 0, 24, (x, n) -> {}).tokens();
            assertThat(two).hasSize(24).containsExactly(one);
        }
    }

    /** The star and the mesh all-reduce give one node's tokens (f32) on 4 nodes with a cluster key. */
    @ParameterizedTest(name = "mesh {0}")
    @ValueSource(booleans = {false, true})
    void starAndMeshGiveTheSameTokens(boolean mesh) throws Exception {
        byte[] key = "mesh-key".getBytes();
        Path m = gqa;
        int[] one = greedy(m, 1, SyncCodec.F32);
        try (LocalCluster cluster = new LocalCluster(3, key);
             ClusterRunner runner = new ClusterRunner(cluster.addresses(), key, SyncCodec.F32, new PrintStream(OutputStream.nullOutputStream())).mesh(mesh);
             GgufFile file = GgufFile.open(m);
             Llama llama = runner.build(file, GgufConfig.read(file), 256, 1)) {
            int[] split = new Generator(llama, Sampler.greedy(llama.vocab())).generate(new int[]{1}, 0, STEPS, (t, n) -> {}).tokens();
            assertThat(split).containsExactly(one);
            assertThat(cluster.log()).contains(mesh ? "mesh of 4 nodes" : "loaded").doesNotContain(mesh ? "rejected" : "mesh of");
        }
    }

    /**
     * The warm-up at load runs through the cluster (it warms the workers too) and leaves no trace in any node's KV
     * cache: a run after it gives the logits of a run without, bit for bit (q80 sync, star and mesh).
     */
    @ParameterizedTest(name = "mesh {0}")
    @ValueSource(booleans = {false, true})
    void warmUpThroughTheClusterLeavesTheLogitsBitIdentical(boolean mesh) throws Exception {
        Path q8 = fixture();
        try (LocalCluster cluster = new LocalCluster(2, null)) {
            List<float[]> cold = splitRun(q8, cluster, mesh, false), warm = splitRun(q8, cluster, mesh, true);
            assertThat(warm).hasSameSizeAs(cold);
            for (int i = 0; i < cold.size(); i++) {
                int[] a = bits(warm.get(i)), b = bits(cold.get(i));
                assertThat(a).as("output %d", i).isEqualTo(b);
            }
        }
    }

    /** Logits of a 3-token prompt, then of 13 single steps fed greedily (positions 3..15, which the warm-up wrote). */
    private static List<float[]> splitRun(Path model, LocalCluster cluster, boolean mesh, boolean warmUp) throws IOException {
        try (ClusterRunner runner = new ClusterRunner(cluster.addresses(), null, SyncCodec.Q80, new PrintStream(OutputStream.nullOutputStream())).mesh(mesh);
             GgufFile file = GgufFile.open(model);
             Llama llama = runner.build(file, GgufConfig.read(file), 64, 1)) {
            if (warmUp) assertThat(WarmUp.run(llama, null, 300_000_000L).rounds()).isPositive();
            List<float[]> out = new ArrayList<>();
            float[] logits = llama.forward(new int[]{1, 9038, 2501}, 0, true).clone();
            out.add(logits);
            for (int pos = 3; pos < 16; pos++) {
                logits = llama.forward(argmax(logits, 0, llama.vocab()), pos).clone();
                out.add(logits);
            }
            return out;
        }
    }

    private static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }

    /** The default all-reduce follows the measurements in docs/cluster.md: a mesh up to 4 nodes, a star beyond. */
    @Test
    void meshUpToFourNodesThenStar() {
        assertThat(Cluster.mesh(2)).isTrue();
        assertThat(Cluster.mesh(4)).isTrue();
        assertThat(Cluster.mesh(5)).isFalse();
        assertThat(Cluster.mesh(8)).isFalse();
    }
}
