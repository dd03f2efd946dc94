package dev.herd.format;

import dev.herd.codec.Codecs;
import dev.herd.HerdException;
import dev.herd.Shared;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DllamaModelTest {
    @TempDir
    Path dir;

    /** A .m writer as distributed-llama's converter lays it out; tensor i of the file holds values i + j/1000. */
    static final class MFile {
        final Map<Integer, Integer> header = new LinkedHashMap<>();
        GgmlType wt = GgmlType.F32;

        MFile(int arch, int dim, int hidden, int layers, int heads, int kvHeads, int vocab) {
            header.put(0, 0);
            header.put(1, arch);
            header.put(2, dim);
            header.put(3, hidden);
            header.put(4, layers);
            header.put(5, heads);
            header.put(6, kvHeads);
            header.put(13, 0);
            header.put(10, 256);
            header.put(9, vocab);
            header.put(7, 0);
            header.put(8, 0);
        }

        byte[] bytes() throws IOException {
            int dim = header.get(2), hidden = header.get(3), heads = header.get(5), vocab = header.get(9);
            int hd = header.getOrDefault(19, dim / heads), q = heads * hd, kv = header.get(6) * hd;
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer h = ByteBuffer.allocate(8 + 8 * header.size()).order(ByteOrder.LITTLE_ENDIAN).putInt(DllamaModel.MAGIC).putInt(8 + 8 * header.size());
            header.forEach((k, v) -> h.putInt(k).putInt(v));
            out.write(h.array());
            int[] i = {0};
            Writer w = (rows, cols, type) -> {
                float[] x = new float[rows * cols];
                for (int j = 0; j < x.length; j++) x[j] = i[0] + (j % 1000) / 1000f;
                i[0]++;
                Quantizer.write(type, x, 0, x.length, out);
            };
            w.put(vocab, dim, GgmlType.F32);
            for (int l = 0; l < header.get(4); l++) {
                w.put(q, dim, wt);
                w.put(kv, dim, wt);
                w.put(kv, dim, wt);
                w.put(dim, q, wt);
                w.put(hidden, dim, wt);
                w.put(dim, hidden, wt);
                w.put(hidden, dim, wt);
                if (header.get(1) == 0xABCD01) {
                    w.put(1, hd, GgmlType.F32);
                    w.put(1, hd, GgmlType.F32);
                }
                w.put(1, dim, GgmlType.F32);
                w.put(1, dim, GgmlType.F32);
            }
            w.put(1, dim, GgmlType.F32);
            w.put(vocab, dim, wt);
            return out.toByteArray();
        }

        interface Writer {
            void put(int rows, int cols, GgmlType type) throws IOException;
        }
    }

    private Path write(String name, byte[] b) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, b);
        return p;
    }

    private static float first(GgufFile f, String name) {
        float[] v = new float[32];
        Codecs.of(f.tensors().get(name).type()).decode(f.bytes(name), 0, v, 0, 32);
        return v[0];
    }

    @Test
    void sharedTinyQ40ModelOpensAsGguf() {
        try (GgufFile f = DllamaModel.open(Shared.model("tiny_q40.m"))) {
            assertThat(f.string("general.architecture")).isEqualTo("llama");
            assertThat(f.integer("llama.embedding_length")).isEqualTo(384);
            assertThat(f.integer("llama.feed_forward_length")).isEqualTo(1152);
            assertThat(f.integer("llama.block_count")).isEqualTo(4);
            assertThat(f.integer("llama.attention.head_count")).isEqualTo(12);
            assertThat(f.integer("llama.attention.head_count_kv")).isEqualTo(12);
            assertThat(f.integer("llama.attention.key_length")).isEqualTo(32);
            assertThat(f.integer("llama.vocab_size")).isEqualTo(384);
            assertThat(f.integer("llama.context_length")).isEqualTo(512);
            assertThat(f.real("llama.rope.freq_base", 0)).isEqualTo(10000f);
            assertThat(f.real("llama.attention.layer_norm_rms_epsilon", 0)).isEqualTo(1e-5f);
            assertThat(f.tensors()).hasSize(1 + 4 * 9 + 2);
            assertThat(f.tensors().get("token_embd.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensors().get("output.weight").type()).isEqualTo(GgmlType.Q4_0);
            assertThat(f.tensor("blk.3.ffn_down.weight").rows()).isEqualTo(384);
            assertThat(f.tensor("blk.3.ffn_down.weight").cols()).isEqualTo(1152);
            float[] norm = new float[384];
            Codecs.of(GgmlType.F32).decode(f.bytes("output_norm.weight"), 0, norm, 0, 384);
            assertThat(norm).containsOnly(1f);
            float[] q = new float[1152];
            Codecs.of(GgmlType.Q4_0).decode(f.bytes("blk.0.ffn_gate.weight"), 0, q, 0, 1152);
            for (float v : q) assertThat(Math.abs(v)).isLessThan(0.1f); // std 0.02 random blocks
        }
    }

    @Test
    void sharedTinyTokenizerYieldsGgufTokenizerMetadata() {
        DllamaTokenizerFile t = DllamaTokenizerFile.read(Shared.model("tiny.t"));
        assertThat(t.tokens().length).isEqualTo(384);
        assertThat(t.bos()).isEqualTo(379);
        assertThat(t.eos()).containsExactly(380, 381);
        assertThat(t.addBos()).isTrue();
        assertThat(t.chatTemplate()).contains("<|start_header_id|>");
        Map<String, Object> m = t.metadata();
        String[] tokens = (String[]) m.get("tokenizer.ggml.tokens");
        assertThat(tokens[0]).isEqualTo("\u2581");
        assertThat(tokens).contains("Hello", "\u2581world");
        assertThat(tokens[379]).isEqualTo("<|begin_of_text|>");
        assertThat((int[]) m.get("tokenizer.ggml.token_type")).startsWith(1).endsWith(3, 3, 3, 3, 3);
        assertThat(m).containsEntry("tokenizer.ggml.model", "llama").containsEntry("tokenizer.ggml.bos_token_id", 379)
                .containsEntry("tokenizer.ggml.eos_token_id", 380).containsEntry("tokenizer.ggml.add_bos_token", true);
        assertThat((float[]) m.get("tokenizer.ggml.scores")).hasSize(384);
    }

    @Test
    void f32ModelKeepsFileOrderAndValues() throws IOException {
        MFile m = new MFile(0xABCD00, 64, 96, 2, 4, 2, 32);
        try (GgufFile f = DllamaModel.open(write("f.m", m.bytes()))) {
            // file order: embd 0, then per layer q k v wo w1 w2 w3 norm0 norm1 (9 tensors)
            assertThat(first(f, "token_embd.weight")).isEqualTo(0f);
            assertThat(first(f, "blk.0.attn_q.weight")).isEqualTo(1f);
            assertThat(first(f, "blk.0.attn_output.weight")).isEqualTo(4f);
            assertThat(first(f, "blk.0.ffn_gate.weight")).isEqualTo(5f);
            assertThat(first(f, "blk.0.ffn_down.weight")).isEqualTo(6f);
            assertThat(first(f, "blk.0.ffn_up.weight")).isEqualTo(7f);
            assertThat(first(f, "blk.1.ffn_norm.weight")).isEqualTo(18f);
            assertThat(first(f, "output.weight")).isEqualTo(20f);
            assertThat(f.tensors().get("blk.0.ffn_down.weight").dims()).containsExactly(96, 64);
            assertThat(f.tensors().get("blk.0.attn_k.weight").dims()).containsExactly(64, 32);
            assertThat(f.tensor("blk.0.attn_k.weight").data().isMapped()).isTrue(); // a view of the .m, not a copy
        }
    }

    @Test
    void q40Qwen3ModelWithRopeScaling() throws IOException {
        MFile m = new MFile(0xABCD01, 64, 96, 1, 2, 1, 32);
        m.wt = GgmlType.Q4_0;
        m.header.put(13, 2);           // weights_float_type Q40
        m.header.put(19, 64);          // head_dim
        m.header.put(20, 6);           // norm_epsilon 1e-6
        m.header.put(12, 1000000);     // rope_theta
        m.header.put(14, 8);           // rope scaling factor, low, high, original context
        m.header.put(15, 1);
        m.header.put(16, 4);
        m.header.put(17, 8192);
        try (GgufFile f = DllamaModel.open(write("q.m", m.bytes()))) {
            assertThat(f.string("general.architecture")).isEqualTo("qwen3");
            assertThat(f.integer("qwen3.attention.key_length")).isEqualTo(64);
            assertThat(f.real("qwen3.attention.layer_norm_rms_epsilon", 0)).isEqualTo(1e-6f);
            assertThat(f.string("qwen3.rope.scaling.type")).isEqualTo("llama3");
            assertThat(f.tensors().get("blk.0.attn_q.weight").dims()).containsExactly(64, 128);
            assertThat(f.tensors().get("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q4_0);
            assertThat(first(f, "blk.0.attn_q_norm.weight")).isEqualTo(8f);
            assertThat(first(f, "blk.0.attn_k_norm.weight")).isEqualTo(9f);
            assertThat(first(f, "blk.0.attn_norm.weight")).isEqualTo(10f);
            float[] expected = new float[32];
            for (int j = 0; j < 32; j++) expected[j] = 1 + j / 1000f;
            byte[] block = new byte[18];
            Quantizer.encode(GgmlType.Q4_0, expected, 0, 32, block, 0);
            assertThat(f.bytes("blk.0.attn_q.weight").asSlice(0, 18).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).isEqualTo(block);
            float[] rope = new float[32];
            Codecs.of(GgmlType.F32).decode(f.bytes("rope_freqs.weight"), 0, rope, 0, 32);
            assertThat(rope[0]).isEqualTo(1f);
            assertThat(rope[31]).isEqualTo(8f);
        }
    }

    @Test
    void truncatedAndOversizedFilesSayHowManyBytes() throws IOException {
        byte[] b = new MFile(0xABCD00, 64, 96, 1, 4, 2, 32).bytes();
        assertThatThrownBy(() -> DllamaModel.open(write("t.m", Arrays.copyOf(b, b.length - 10))))
                .isInstanceOf(HerdException.class).hasMessageContaining("t.m").hasMessageContaining("missing 10 bytes");
        assertThatThrownBy(() -> DllamaModel.open(write("o.m", Arrays.copyOf(b, b.length + 4))))
                .hasMessageContaining("o.m").hasMessageContaining("4 bytes more");
    }

    @Test
    void badMagicsAndHeaderKeysAreNamed() throws IOException {
        byte[] b = new MFile(0xABCD00, 64, 96, 1, 4, 2, 32).bytes();
        ByteBuffer bb = ByteBuffer.wrap(b.clone()).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0xABCD00);
        assertThatThrownBy(() -> DllamaModel.open(write("old.m", bb.array()))).hasMessageContaining("old.m").hasMessageContaining("old model format is not supported");
        bb.putInt(0, 0x12345678);
        assertThatThrownBy(() -> DllamaModel.open(write("x.m", bb.array()))).hasMessageContaining("not a distributed-llama model");
        ByteBuffer k = ByteBuffer.wrap(b.clone()).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 99);
        assertThatThrownBy(() -> DllamaModel.open(write("k.m", k.array()))).hasMessageContaining("k.m").hasMessageContaining("unknown header key 99");
        MFile moe = new MFile(0xABCD02, 64, 96, 1, 4, 2, 32); // Qwen3 MoE without experts, and Llama with them
        assertThatThrownBy(() -> DllamaModel.open(write("moe.m", moe.bytes()))).hasMessageContaining("moe.m: arch_type 0xabcd02 (qwen3moe) with n_experts 0");
        MFile llama = new MFile(0xABCD00, 64, 96, 1, 4, 2, 32);
        llama.header.put(7, 8);
        assertThatThrownBy(() -> DllamaModel.open(write("ex.m", llama.bytes()))).hasMessageContaining("ex.m: arch_type 0xabcd00 (llama) with n_experts 8");
        MFile many = new MFile(0xABCD02, 64, 96, 1, 4, 2, 32);
        many.header.put(7, 4);
        many.header.put(8, 5);
        assertThatThrownBy(() -> DllamaModel.open(write("k.m", many.bytes()))).hasMessageContaining("k.m: header n_experts = 4, n_active_experts = 5: experts used per token 5 is outside 1..4");
        assertThatThrownBy(() -> DllamaModel.open(dir.resolve("none.m"))).hasMessageContaining("none.m").hasMessageContaining("no such file");
    }

    /** A header of a few bytes that claims 1024 layers of 1024 experts (1 + 1024 x (9 + 3 x 1024) + 2 tensors) is refused before they are listed. */
    @Test
    void aMixtureHeaderClaimingMillionsOfTensorsIsRefusedBeforeListingThem() throws IOException {
        int[][] keys = {{0, 0}, {1, 0xABCD02}, {2, 64}, {3, 96}, {4, 1024}, {5, 4}, {6, 2}, {7, 1024}, {8, 2}, {9, 32}, {10, 256}, {13, 0}, {21, 32}};
        ByteBuffer h = ByteBuffer.allocate(8 + 8 * keys.length + 100).order(ByteOrder.LITTLE_ENDIAN).putInt(DllamaModel.MAGIC).putInt(8 + 8 * keys.length);
        for (int[] kv : keys) h.putInt(kv[0]).putInt(kv[1]);
        assertThatThrownBy(() -> DllamaModel.open(write("many.m", h.array())))
                .hasMessage(dir.resolve("many.m") + ": the header implies 3154947 tensors, more than 65536");
    }

    @Test
    void tokenizerErrorsAreNamed() throws IOException {
        ByteBuffer old = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN).putInt(0x567123);
        assertThatThrownBy(() -> DllamaTokenizerFile.read(write("old.t", old.array()))).hasMessageContaining("old tokenizer format");
        byte[] t = Files.readAllBytes(Shared.model("tiny.t"));
        assertThatThrownBy(() -> DllamaTokenizerFile.read(write("cut.t", Arrays.copyOf(t, t.length - 3)))).hasMessageContaining("cut.t");
        ByteBuffer key = ByteBuffer.wrap(t.clone()).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 42);
        assertThatThrownBy(() -> DllamaTokenizerFile.read(write("key.t", key.array()))).hasMessageContaining("unknown tokenizer header key 42");
    }

    @Test
    void invalidUtf8TokensAreSpelledAsBytes() {
        byte[][] tokens = {{'a', ' '}, {(byte) 0xe2}, {(byte) 0xe2, (byte) 0x96}, "<s>".getBytes()};
        var t = new DllamaTokenizerFile(tokens, new float[4], 3, new int[]{3}, null, false);
        Map<String, Object> m = t.metadata();
        assertThat((String[]) m.get("tokenizer.ggml.tokens")).containsExactly("a\u2581", "<0xE2>", "<0xE2><0x96>", "<s>");
        assertThat((int[]) m.get("tokenizer.ggml.token_type")).containsExactly(1, 6, 1, 3);
        assertThat(m).doesNotContainKey("tokenizer.chat_template");
    }
}
