package dev.herd.model;

import dev.herd.HerdException;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Config and weight validation: errors name the file, the key or tensor, and what was expected. */
class ModelFileTest {
    @TempDir
    Path dir;

    /** A one-layer llama (dim 64, 4 heads, 2 kv heads, hidden 96, vocab 10) with all-zero weights, editable. */
    private Path model(Consumer<GgufWriter> edit, boolean badQ) throws IOException {
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("llama.embedding_length", 64)
                .put("llama.block_count", 1)
                .put("llama.feed_forward_length", 96)
                .put("llama.attention.head_count", 4)
                .put("llama.attention.head_count_kv", 2)
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.context_length", 128);
        edit.accept(w);
        tensor(w, "token_embd.weight", 10, 64);
        tensor(w, "blk.0.attn_norm.weight", 1, 64);
        tensor(w, "blk.0.attn_q.weight", badQ ? 32 : 64, 64);
        tensor(w, "blk.0.attn_k.weight", 32, 64);
        tensor(w, "blk.0.attn_v.weight", 32, 64);
        tensor(w, "blk.0.attn_output.weight", 64, 64);
        tensor(w, "blk.0.ffn_norm.weight", 1, 64);
        tensor(w, "blk.0.ffn_gate.weight", 96, 64);
        tensor(w, "blk.0.ffn_up.weight", 96, 64);
        tensor(w, "blk.0.ffn_down.weight", 64, 96);
        tensor(w, "output_norm.weight", 1, 64);
        Path p = dir.resolve("m.gguf");
        w.write(p);
        return p;
    }

    private static void tensor(GgufWriter w, String name, int rows, int cols) {
        w.tensor(name, GgmlType.F32, rows == 1 ? new long[]{cols} : new long[]{cols, rows}, GgufWriter.f32(new float[rows * cols]));
    }

    @Test
    void readsConfigAndTiesTheOutput() throws IOException {
        try (GgufFile f = GgufFile.open(model(w -> {}, false))) {
            ModelConfig c = GgufConfig.read(f);
            assertThat(c.headDim()).isEqualTo(16);
            assertThat(c.kvDim()).isEqualTo(32);
            assertThat(c.vocab()).isEqualTo(10);
            assertThat(c.ropeTheta()).isEqualTo(10000f);
            assertThat(c.arch().neox).isFalse();
            assertThat(c.scaling()).isNull();
            Weights w = Weights.from(f.source(), c);
            assertThat(w.output()).isSameAs(w.tokenEmbd());
            assertThat(w.ropeFreqs()).isNull();
        }
    }

    @Test
    void missingKeyNamesFileAndKey() throws IOException {
        Path p = model(w -> w.put("llama.block_count", 0), false);
        try (GgufFile f = GgufFile.open(p)) {
            assertThatThrownBy(() -> GgufConfig.read(f)).isInstanceOf(HerdException.class)
                    .hasMessageContaining(p.toString()).hasMessageContaining("'llama.block_count' = 0");
        }
        Path q = model(w -> w.put("llama.attention.head_count_kv", 3), false);
        try (GgufFile f = GgufFile.open(q)) {
            assertThatThrownBy(() -> GgufConfig.read(f)).isInstanceOf(HerdException.class)
                    .hasMessageContaining("head_count_kv' = 3 does not divide");
        }
        Path r = model(w -> w.put("general.architecture", "gemma2"), false);
        try (GgufFile f = GgufFile.open(r)) {
            assertThatThrownBy(() -> GgufConfig.read(f)).isInstanceOf(HerdException.class).hasMessageContaining("'gemma2'");
        }
    }

    @Test
    void shapeMismatchNamesTensorAndExpectedShape() throws IOException {
        try (GgufFile f = GgufFile.open(model(w -> {}, true))) {
            ModelConfig c = GgufConfig.read(f);
            assertThatThrownBy(() -> Weights.from(f.source(), c)).isInstanceOf(HerdException.class)
                    .hasMessageContaining("'blk.0.attn_q.weight'").hasMessageContaining("expected [64 x 64]");
        }
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        try (GgufFile f = GgufFile.open(model(w -> w.put("llama.block_count", 2), false))) {
            ModelConfig c = GgufConfig.read(f);
            assertThatThrownBy(() -> Weights.from(f.source(), c)).isInstanceOf(HerdException.class)
                    .hasMessageContaining("'blk.1.attn_norm.weight' is missing");
        }
    }
}
