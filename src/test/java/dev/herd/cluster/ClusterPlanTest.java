package dev.herd.cluster;

import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.Stories15M;
import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.HfConverter;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.convert.WeightTypes;
import dev.herd.engine.Generator;
import dev.herd.engine.Sampler;
import dev.herd.format.DllamaModel;
import dev.herd.format.GgufFile;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The numbers of {@code herd plan} against the file's bytes, the formulas they come from and what real runs do. */
class ClusterPlanTest {
    @TempDir
    Path dir;

    /** Every tensor is on one node, but the norms (and rope factors) are on every node and the embedding on the root. */
    @Test
    void weightsOfAllNodesAreTheFilesTensorsWithReplicatedNormsCountedOncePerNode() {
        try (GgufFile h = DllamaModel.header(Shared.model("tiny_q40.m"))) {
            long all = h.tensors().values().stream().mapToLong(GgufFile.TensorInfo::bytes).sum();
            long replicated = h.tensors().values().stream().filter(t -> t.name().endsWith("norm.weight") || t.name().equals("rope_freqs.weight"))
                    .mapToLong(GgufFile.TensorInfo::bytes).sum();
            assertThat(replicated).isPositive();
            for (int n : List.of(1, 2, 3, 4, 6, 12)) {
                long sum = new ClusterPlan(h, n, 512, SyncCodec.Q80, 1).nodes().stream().mapToLong(ClusterPlan.Node::weights).sum();
                assertThat(sum).as(n + " nodes").isEqualTo(all + (n - 1) * replicated);
            }
        }
    }

    @Test
    void kvCacheIsLayersTimesKeysAndValuesOfTheNodesKvHeadsTimesPositionsInF32() {
        try (GgufFile h = HfConverter.header(RandomModel.shape("llama3.1-8b"), WeightTypes.parse("q40"), Path.of("llama3.1-8b"))) {
            int kvDim = 8 * 128;
            for (int n : List.of(1, 2, 4, 8, 16)) {
                ClusterPlan plan = new ClusterPlan(h, n, 4096, SyncCodec.Q80, 4);
                long perNode = 32L * 2 * (n <= 8 ? kvDim / n : 128) * 4096 * 4; // beyond 8 nodes each holds one KV head
                assertThat(plan.nodes()).as(n + " nodes").allSatisfy(node -> assertThat(node.kv()).isEqualTo(perNode));
            }
            assertThat(new ClusterPlan(h, 2, 1 << 30, SyncCodec.Q80, 4).maxSeqLen).as("capped at the model's context").isEqualTo(131072);
        }
    }

    @Test
    void invalidNodeCountIsOneLineNamingTheValidOnes() {
        try (GgufFile h = HfConverter.header(RandomModel.shape("llama3.1-8b"), WeightTypes.parse("q40"), Path.of("llama3.1-8b"))) {
            assertThatThrownBy(() -> new ClusterPlan(h, 3, 4096, SyncCodec.Q80, 4)).isInstanceOf(HerdException.class)
                    .hasMessage("cannot split this model across 3 nodes: 32 attention heads do not divide evenly into 3;"
                            + " valid node counts: [1, 2, 4, 8, 16, 32]");
        }
    }

    /**
     * The weights and KV cache the plan gives each worker are what real workers log when they accept the plan and load
     * their slices (in-process workers on loopback): F32 stories15M on 3 nodes, and a Q4_K_M of random weights with
     * 1024-wide rows on 2, whose Q6_K matrices a node holds in Herd's larger layout (counted in the file's
     * bytes, the plan fell short of the worker's log).
     */
    @ParameterizedTest
    @ValueSource(strings = {"f32", "q4_k_m"})
    void workersLoadWhatThePlanSays(String type) throws Exception {
        Path model = type.equals("f32") ? Stories15M.f32(dir) : dir.resolve("wide-q4_k_m.gguf");
        if (!type.equals("f32")) {
            Path f32 = dir.resolve("wide-f32.gguf");
            RandomModel.write(HfConverter.config(Path.of(ClusterPlanTest.class.getResource("/models/kq-wide-config.json").toURI())),
                    GgmlType.F32, f32, 5, Map.of(), Progress.NONE);
            GgufRequantizer.convert(f32, model, WeightTypes.parse(type), Map.of(), Progress.NONE);
        }
        int count = type.equals("f32") ? 3 : 2;
        try (LocalCluster cluster = new LocalCluster(count - 1, null);
             LocalCluster.Run run = new LocalCluster.Run(model, cluster.addresses(), null, SyncCodec.Q80, 200);
             GgufFile h = GgufFile.header(model)) {
            List<ClusterPlan.Node> nodes = new ClusterPlan(h, count, 200, SyncCodec.Q80, 1).nodes();
            for (ClusterPlan.Node n : nodes.subList(1, count)) {
                assertThat(cluster.log()).contains(String.format("loaded %.1f MiB of weights, KV cache %.1f MiB;", n.weights() / 1048576.0, n.kv() / 1048576.0));
            }
            assertThat(run.llama.cache.maxSeqLen).isEqualTo(200);
        }
    }

    /** The root's bytes per decoded token, counted on its sockets, are the plan's exactly (q80: fixed-size messages). */
    @Test
    void rootBytesPerTokenAreTheFormulas() throws Exception {
        Path model = Stories15M.f32(dir);
        for (int nodes : List.of(2, 3)) {
            try (LocalCluster cluster = new LocalCluster(nodes - 1, null);
                 LocalCluster.Run run = new LocalCluster.Run(model, cluster.addresses(), null, SyncCodec.Q80, 64);
                 GgufFile h = GgufFile.header(model)) {
                Stats stats = run.cluster.stats();
                List<long[]> counts = new ArrayList<>();
                new Generator(run.llama, Sampler.greedy(run.llama.vocab())).generate(new int[]{1, 403}, 0, 12,
                        (token, nanos) -> counts.add(new long[]{stats.sent(), stats.received()}));
                ClusterPlan.Traffic t = new ClusterPlan(h, nodes, 64, SyncCodec.Q80, 1).traffic();
                for (int i = 2; i < counts.size(); i++) { // decoded tokens: one forward pass of one token each
                    assertThat(counts.get(i)[0] - counts.get(i - 1)[0]).as(nodes + " nodes, sent").isEqualTo(t.rootSent());
                    assertThat(counts.get(i)[1] - counts.get(i - 1)[1]).as(nodes + " nodes, received").isEqualTo(t.rootReceived());
                }
                assertThat(counts).hasSizeGreaterThan(5);
            }
        }
    }
}
