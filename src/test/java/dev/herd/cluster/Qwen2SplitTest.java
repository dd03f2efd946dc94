package dev.herd.cluster;

import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.format.GgufFile;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.herd.Logits.relativeL2;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Qwen2 model (Q/K/V biases) written by Herd's converter splits like any other: each node adds the bias values of
 * its own Q rows and KV heads. 24 query heads over 12 KV heads of 32 values, FFN 384: 2, 3 and 4 nodes all cut
 * whole heads and whole KV heads. F32 weights and f32 sync: nothing is rounded to Q8_0 on either side, so the split
 * differs from one node only in the order its partial sums are added (measured 2-4e-7 relative L2 of the logits, as
 * for Llama and Qwen3 of the same shape). With Q8_0 activations a 1e-7 difference can move a value across a rounding
 * boundary, which alone moved these logits by 6e-3, so a quantized model could not tell a wrong bias from that.
 */
class Qwen2SplitTest {
    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void model() {
        model = dir.resolve("qwen2.gguf");
        RandomModel.write(new ModelConfig(Arch.QWEN2, 256, 384, 2, 24, 12, 32, 384, 256, 1e-6f, 1000000, null, true),
                GgmlType.F32, model, 7, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(model)) {
            assertThat(f.string("general.architecture")).isEqualTo("qwen2");
            assertThat(f.tensors()).containsKeys("blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.1.attn_v.bias");
        }
    }

    @ParameterizedTest(name = "qwen2 on {0} nodes")
    @ValueSource(ints = {2, 3, 4})
    void givesOneNodesTokensAndLogits(int nodes) throws IOException {
        int[] prompt = {1, 200, 37}, tokens = new SplittableRandom(9).ints(12, 0, 384).toArray();
        try (LocalCluster workers = new LocalCluster(nodes - 1, null);
             LocalCluster.Run split = new LocalCluster.Run(model, workers.addresses(), null, SyncCodec.F32, 64);
             LocalCluster.Run one = new LocalCluster.Run(model, List.of(), null, SyncCodec.F32, 64)) {
            assertThat(split.greedy(prompt, 30)).containsExactly(one.greedy(prompt, 30));
            assertThat(relativeL2(split.llama.forward(tokens, 0, false), one.llama.forward(tokens, 0, false))).isLessThan(1e-5);
        }
    }
}
