package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Llama2cCheckpointTest {
    @TempDir
    Path dir;

    // dim 32, hidden 64, 2 layers, 4 heads, 2 kv heads (head 8, kvDim 16), vocab 40 untied, seqLen 6.
    static final int[] HEADER = {32, 64, 2, 4, 2, -40, 6};

    /** Every float of the checkpoint is its own index, so each tensor's first value tells where it was read. */
    private Path checkpoint(int[] header, int floats) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(28 + 4 * floats).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : header) b.putInt(v);
        for (int i = 0; i < floats; i++) b.putFloat(i);
        Path p = dir.resolve("model.bin");
        Files.write(p, b.array());
        return p;
    }

    private static int floats() {
        int d = 32, f = 64, l = 2, kv = 16, v = 40;
        return v * d + l * (2 * d + 2 * d * d + 2 * d * kv + 3 * d * f) + d + 6 * 8 + v * d;
    }

    @Test
    void writesLlamaNamesInLlama2cOrderAndSkipsFreqCis() throws IOException {
        Path out = dir.resolve("m.gguf");
        Llama2cCheckpoint.convert(checkpoint(HEADER, floats()), out, Map.of("tokenizer.ggml.model", "llama"));
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("tokenizer.ggml.model")).isEqualTo("llama");
            assertThat(f.integer("llama.attention.head_count_kv")).isEqualTo(2);
            assertThat(f.integer("llama.rope.dimension_count")).isEqualTo(8);
            assertThat(f.real("llama.attention.layer_norm_rms_epsilon", 0)).isEqualTo(1e-5f);
            int d = 32, f2 = 64, kv = 16, embd = 40 * d;
            int attnNorm = embd, q = attnNorm + 2 * d, k = q + 2 * d * d, v = k + 2 * d * kv, o = v + 2 * d * kv;
            int ffnNorm = o + 2 * d * d, gate = ffnNorm + 2 * d, down = gate + 2 * f2 * d, up = down + 2 * d * f2;
            int outNorm = up + 2 * f2 * d, cls = outNorm + d + 6 * 8;
            assertFirst(f, "token_embd.weight", 0, 40, d);
            assertFirst(f, "blk.1.attn_norm.weight", attnNorm + d, 1, d);
            assertFirst(f, "blk.1.attn_q.weight", q + d * d, d, d);
            assertFirst(f, "blk.1.attn_k.weight", k + d * kv, kv, d);
            assertFirst(f, "blk.1.attn_v.weight", v + d * kv, kv, d);
            assertFirst(f, "blk.1.attn_output.weight", o + d * d, d, d);
            assertFirst(f, "blk.1.ffn_norm.weight", ffnNorm + d, 1, d);
            assertFirst(f, "blk.1.ffn_gate.weight", gate + f2 * d, f2, d);
            assertFirst(f, "blk.1.ffn_down.weight", down + d * f2, d, f2);
            assertFirst(f, "blk.1.ffn_up.weight", up + f2 * d, f2, d);
            assertFirst(f, "output_norm.weight", outNorm, 1, d);
            assertFirst(f, "output.weight", cls, 40, d);
        }
    }

    private static void assertFirst(GgufFile f, String name, int first, int rows, int cols) {
        Tensor t = f.tensor(name);
        assertThat(new int[]{t.rows(), t.cols()}).as(name).containsExactly(rows, cols);
        assertThat(t.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0)).as(name).isEqualTo((float) first);
    }

    @Test
    void rejectsTruncatedFiles() throws IOException {
        Path in = checkpoint(HEADER, floats() - 1);
        assertThatThrownBy(() -> Llama2cCheckpoint.convert(in, dir.resolve("x.gguf"), Map.of()))
                .isInstanceOf(HerdException.class).hasMessageContaining("truncated").hasMessageNotContaining("\n");
        assertThat(dir.resolve("x.gguf")).doesNotExist();
    }

    @Test
    void rejectsBadHeaders() throws IOException {
        int[] h = HEADER.clone();
        h[3] = 5; // heads do not divide dim
        Path in = checkpoint(h, floats());
        assertThatThrownBy(() -> Llama2cCheckpoint.convert(in, dir.resolve("x.gguf"), Map.of()))
                .isInstanceOf(HerdException.class).hasMessageContaining("not a llama2.c checkpoint");
        Path zeros = checkpoint(new int[7], 10);
        assertThatThrownBy(() -> Llama2cCheckpoint.convert(zeros, dir.resolve("x.gguf"), Map.of()))
                .isInstanceOf(HerdException.class).hasMessageContaining("dim = 0");
        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, Arrays.copyOf(new byte[]{1, 2, 3}, 3));
        assertThatThrownBy(() -> Llama2cCheckpoint.convert(tiny, dir.resolve("x.gguf"), Map.of()))
                .isInstanceOf(HerdException.class).hasMessageContaining("too short");
    }
}
