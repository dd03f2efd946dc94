package dev.herd.convert;

import dev.herd.format.GgufFile;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RandomModelTest {
    @TempDir
    Path dir;

    private static final ModelConfig SMALL = new ModelConfig(Arch.LLAMA, 64, 128, 2, 4, 2, 16, 96, 512, 1e-5f, 500000,
            new ModelConfig.RopeScaling(8, 1, 4, 256), false);

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q8_0", "F16", "BF16", "F32"})
    void smallRandomModelHasEveryTensorWithSmallValues(GgmlType type) {
        Path out = dir.resolve("r.gguf");
        RandomModel.write(SMALL, type, out, 1, Map.of("tokenizer.ggml.model", "llama"), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.tensors().keySet()).containsExactlyElementsOf(SMALL.tensors().stream().map(dev.herd.model.ModelTensor.Spec::name).toList());
            assertThat(f.integer("llama.embedding_length")).isEqualTo(64);
            assertThat(f.string("tokenizer.ggml.model")).isEqualTo("llama");
            assertThat(f.tensors().get("blk.0.ffn_up.weight").type()).isEqualTo(type);
            assertThat(Close.decode(f, "blk.1.ffn_norm.weight")).containsOnly(1f);
            assertThat(Close.decode(f, "rope_freqs.weight")).containsExactly(SMALL.ropeFreqs());
            float[] w = Close.decode(f, "blk.1.attn_q.weight");
            double sum2 = 0;
            for (float v : w) {
                assertThat(Math.abs(v)).isLessThan(0.05f);
                sum2 += v * v;
            }
            assertThat(Math.sqrt(sum2 / w.length)).isBetween(0.005, 0.03);
            assertThat(Close.decode(f, "token_embd.weight")).isNotEqualTo(Close.decode(f, "output.weight"));
        }
    }

    @Test
    void tinyShapeAndConfigJsonShapes() throws IOException {
        Path out = dir.resolve("tiny.gguf");
        RandomModel.write(RandomModel.shapeOf("tiny"), GgmlType.Q4_0, out, 7, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.integer("llama.vocab_size")).isEqualTo(128256);
            assertThat(f.hasTensor("output.weight")).isFalse();
        }
        Path hf = HfFolder.of("Qwen3ForCausalLM", 64, 96, 1, 4, 2, 32, 64, false, 1).write(dir.resolve("qwen"), "F32", 1);
        ModelConfig q = RandomModel.shapeOf(hf.resolve("config.json").toString());
        assertThat(q.arch()).isEqualTo(Arch.QWEN3);
        assertThat(q.headDim()).isEqualTo(32);
        assertThat(RandomModel.shape("llama3.1-8b").tensors()).hasSize(1 + 1 + 32 * 9 + 2);
        assertThat(RandomModel.shape("qwen3-8b").tensors()).hasSize(1 + 36 * 11 + 2);
    }

    @Test
    void unknownShapeListsTheKnownOnes() {
        assertThatThrownBy(() -> RandomModel.shape("llama9")).hasMessageContaining("llama9").hasMessageContaining("llama3.1-70b");
    }
}
