package dev.herd.cluster;

import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.herd.Logits.relativeL2;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mixtures of experts written by Herd's converter split like dense models: every node holds its slice of every
 * expert and chooses the experts itself. 24 query heads over 12 KV heads, 8 experts of width 384 (2 used): 2, 3 and 4
 * nodes cut whole heads and 192, 128 or 96 rows of each expert. F32 weights and f32 sync: the split differs from one
 * node only in the order partial sums are added, so the greedy tokens are one node's and the logits agree to float
 * rounding (in MixtureTest, choosing other experts moved the logits by 1e-2..4e-2, against 1e-5 here). Q8_0
 * weights (experts repacked into the kernels' interleaved groups on each node, whose expert views must fall on whole
 * groups) are held to the Q8_0 bound of the engine tests, since a Q8_0 rounding tie may then fall the other way.
 */
class MixtureSplitTest {
    @TempDir
    static Path dir;
    static Path qwen3moe, mixtral, qwen3moeQ8, qwen2moe;

    @BeforeAll
    static void models() {
        qwen3moe = dir.resolve("qwen3moe.gguf");
        mixtral = dir.resolve("mixtral.gguf");
        qwen3moeQ8 = dir.resolve("qwen3moe-q8.gguf");
        ModelConfig.Moe moe = new ModelConfig.Moe(8, 2, true);
        RandomModel.write(new ModelConfig(Arch.QWEN3MOE, 256, 384, 2, 24, 12, 32, 384, 256, 1e-6f, 1000000, 32, null, true, moe),
                GgmlType.F32, qwen3moe, 7, Map.of(), Progress.NONE);
        RandomModel.write(new ModelConfig(Arch.LLAMA, 256, 384, 2, 24, 12, 32, 384, 256, 1e-5f, 10000, 32, null, false, moe),
                GgmlType.F32, mixtral, 8, Map.of(), Progress.NONE);
        GgufRequantizer.convert(qwen3moe, qwen3moeQ8, GgmlType.Q8_0, Map.of(), Progress.NONE);
        qwen2moe = dir.resolve("qwen2moe.gguf"); // a shared expert twice an expert's width: each node holds twice its expert rows of it
        RandomModel.write(new ModelConfig(Arch.QWEN2MOE, 256, 384, 2, 24, 12, 32, 384, 256, 1e-6f, 1000000, 32, null, false,
                new ModelConfig.Moe(8, 2, false, 768)), GgmlType.F32, qwen2moe, 9, Map.of(), Progress.NONE);
    }

    static Stream<Arguments> cases() {
        return Stream.of(2, 3, 4).flatMap(n -> Stream.of(Arguments.of("qwen3moe", n), Arguments.of("mixtral", n), Arguments.of("qwen3moe-q8", n),
                Arguments.of("qwen2moe", n)));
    }

    @ParameterizedTest(name = "{0} on {1} nodes")
    @MethodSource("cases")
    void givesOneNodesTokensAndLogits(String name, int nodes) throws IOException {
        Path model = switch (name) {
            case "qwen3moe" -> qwen3moe;
            case "mixtral" -> mixtral;
            case "qwen2moe" -> qwen2moe;
            default -> qwen3moeQ8;
        };
        boolean f32 = !name.endsWith("q8");
        int[] prompt = {1, 200, 37}, tokens = new SplittableRandom(9).ints(12, 0, 384).toArray();
        try (LocalCluster workers = new LocalCluster(nodes - 1, null);
             LocalCluster.Run split = new LocalCluster.Run(model, workers.addresses(), null, SyncCodec.F32, 64);
             LocalCluster.Run one = new LocalCluster.Run(model, List.of(), null, SyncCodec.F32, 64)) {
            if (f32) assertThat(split.greedy(prompt, 30)).containsExactly(one.greedy(prompt, 30));
            assertThat(relativeL2(split.llama.forward(tokens, 0, false), one.llama.forward(tokens, 0, false))).isLessThan(f32 ? 1e-5 : 3e-2);
        }
    }
}
