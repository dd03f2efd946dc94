package dev.herd.convert;

import dev.herd.HerdException;
import dev.herd.format.GgufFile;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HfConverterTest {
    @TempDir
    Path dir;

    private static HfFolder llama(boolean tied) {
        HfFolder f = HfFolder.of("LlamaForCausalLM", 64, 128, 2, 4, 2, 0, 96, tied, 1);
        f.config.put("rope_scaling", Map.of("rope_type", "llama3", "factor", 8.0, "low_freq_factor", 1.0,
                "high_freq_factor", 4.0, "original_max_position_embeddings", 256));
        return f;
    }

    /** permute(w, heads) written the way numpy reads it: reshape(heads, 2, half, cols).swapaxes(1, 2). */
    private static float[] permuted(float[] w, int rows, int cols, int heads) {
        float[] out = new float[w.length];
        int half = rows / heads / 2;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    System.arraycopy(w, ((h * 2 + j) * half + i) * cols, out, ((h * half + i) * 2 + j) * cols, cols);
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"q40", "q80", "f16", "bf16", "f32"})
    void llamaConvertsToEveryWeightTypeWithPermutedQk(String wt) throws IOException {
        HfFolder hf = llama(false);
        Path in = hf.write(dir.resolve("llama"), "BF16", 1);
        HfFolder.JSON.writeValue(in.resolve("generation_config.json").toFile(), Map.of("bos_token_id", 5, "eos_token_id", List.of(7, 9)));
        Path out = dir.resolve("m.gguf");
        List<long[]> calls = new ArrayList<>();
        HfConverter.convert(in, out, WeightTypes.parse(wt).base(), Map.of("tokenizer.ggml.model", "llama"),
                (t, n, done, total) -> calls.add(new long[]{t, n, done, total}));
        GgmlType type = WeightTypes.parse(wt).base();
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("general.architecture")).isEqualTo("llama");
            assertThat(f.integer("llama.embedding_length")).isEqualTo(64);
            assertThat(f.integer("llama.feed_forward_length")).isEqualTo(128);
            assertThat(f.integer("llama.block_count")).isEqualTo(2);
            assertThat(f.integer("llama.attention.head_count")).isEqualTo(4);
            assertThat(f.integer("llama.attention.head_count_kv")).isEqualTo(2);
            assertThat(f.integer("llama.attention.key_length")).isEqualTo(16);
            assertThat(f.integer("llama.rope.dimension_count")).isEqualTo(16);
            assertThat(f.integer("llama.context_length")).isEqualTo(2048);
            assertThat(f.integer("llama.vocab_size")).isEqualTo(96);
            assertThat(f.real("llama.rope.freq_base", 0)).isEqualTo(500000f);
            assertThat(f.real("llama.attention.layer_norm_rms_epsilon", 0)).isEqualTo(1e-6f);
            assertThat(f.string("llama.rope.scaling.type")).isEqualTo("llama3");
            assertThat(f.real("llama.rope.scaling.factor", 0)).isEqualTo(8f);
            assertThat(f.integer("llama.rope.scaling.original_context_length")).isEqualTo(256);
            assertThat(f.integer("tokenizer.ggml.bos_token_id")).isEqualTo(5);
            assertThat(f.integer("tokenizer.ggml.eos_token_id")).isEqualTo(7);
            assertThat(f.array("tokenizer.ggml.eos_token_ids", int[].class)).containsExactly(7, 9);
            assertThat(f.string("tokenizer.ggml.model")).isEqualTo("llama");
            assertThat(f.tensors()).hasSize(1 + 1 + 2 * 9 + 2);
            assertThat(f.tensors().get("blk.1.attn_k.weight").dims()).containsExactly(64, 32);
            assertThat(f.tensors().get("blk.0.ffn_down.weight").dims()).containsExactly(128, 64);
            assertThat(f.tensors().get("blk.0.attn_norm.weight").dims()).containsExactly(64);
            assertThat(f.tensors().get("blk.0.attn_norm.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensors().get("output_norm.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensors().get("rope_freqs.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(f.tensors().get("blk.0.attn_q.weight").type()).isEqualTo(type);
            assertThat(f.tensors().get("token_embd.weight").type()).isEqualTo(type);
            assertThat(f.tensors().get("output.weight").type()).isEqualTo(type);
            for (int l = 0; l < 2; l++) {
                String p = "model.layers." + l + ".", b = "blk." + l + ".";
                Close.check(f, b + "attn_q.weight", permuted(hf.tensors.get(p + "self_attn.q_proj.weight").values(), 64, 64, 4));
                Close.check(f, b + "attn_k.weight", permuted(hf.tensors.get(p + "self_attn.k_proj.weight").values(), 32, 64, 2));
                Close.check(f, b + "attn_v.weight", hf.tensors.get(p + "self_attn.v_proj.weight").values());
                Close.check(f, b + "attn_output.weight", hf.tensors.get(p + "self_attn.o_proj.weight").values());
                Close.check(f, b + "ffn_gate.weight", hf.tensors.get(p + "mlp.gate_proj.weight").values());
                Close.check(f, b + "ffn_up.weight", hf.tensors.get(p + "mlp.up_proj.weight").values());
                Close.check(f, b + "ffn_down.weight", hf.tensors.get(p + "mlp.down_proj.weight").values());
                Close.check(f, b + "attn_norm.weight", hf.tensors.get(p + "input_layernorm.weight").values());
                Close.check(f, b + "ffn_norm.weight", hf.tensors.get(p + "post_attention_layernorm.weight").values());
            }
            Close.check(f, "token_embd.weight", hf.tensors.get("model.embed_tokens.weight").values());
            Close.check(f, "output.weight", hf.tensors.get("lm_head.weight").values());
            Close.check(f, "output_norm.weight", hf.tensors.get("model.norm.weight").values());
        }
        long[] last = calls.getLast();
        assertThat(last[0]).isEqualTo(last[1]).isEqualTo(22);
        assertThat(last[2]).isEqualTo(last[3]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16", "F16"})
    void qwen3ShardedTiedWithExplicitHeadDimIsNotPermuted(String dtype) throws IOException {
        HfFolder hf = HfFolder.of("Qwen3ForCausalLM", 64, 96, 2, 4, 2, 32, 64, true, 2);
        Path in = hf.write(dir.resolve("qwen"), dtype, 3);
        Path out = dir.resolve("q.gguf");
        HfConverter.convert(in, out, GgmlType.Q8_0, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("general.architecture")).isEqualTo("qwen3");
            assertThat(f.integer("qwen3.attention.key_length")).isEqualTo(32);
            assertThat(f.integer("qwen3.attention.value_length")).isEqualTo(32);
            assertThat(f.has("qwen3.rope.scaling.type")).isFalse();
            assertThat(f.hasTensor("output.weight")).isFalse();
            assertThat(f.hasTensor("rope_freqs.weight")).isFalse();
            assertThat(f.tensors().get("blk.0.attn_q.weight").dims()).containsExactly(64, 128);
            assertThat(f.tensors().get("blk.0.attn_output.weight").dims()).containsExactly(128, 64);
            assertThat(f.tensors().get("blk.1.attn_q_norm.weight").type()).isEqualTo(GgmlType.F32);
            for (int l = 0; l < 2; l++) {
                String p = "model.layers." + l + ".", b = "blk." + l + ".";
                Close.check(f, b + "attn_q.weight", hf.tensors.get(p + "self_attn.q_proj.weight").values());
                Close.check(f, b + "attn_k.weight", hf.tensors.get(p + "self_attn.k_proj.weight").values());
                Close.check(f, b + "attn_q_norm.weight", hf.tensors.get(p + "self_attn.q_norm.weight").values());
                Close.check(f, b + "attn_k_norm.weight", hf.tensors.get(p + "self_attn.k_norm.weight").values());
            }
            Close.check(f, "token_embd.weight", hf.tensors.get("model.embed_tokens.weight").values());
        }
    }

    /** Qwen2 (and Qwen2.5): NeoX rope, so Q/K are not permuted; the Q/K/V biases are kept as F32 whatever the weight type. */
    @Test
    void qwen2KeepsItsBiasesInF32AndIsNotPermuted() throws IOException {
        HfFolder hf = HfFolder.of("Qwen2ForCausalLM", 64, 96, 2, 4, 2, 0, 64, true, 3);
        Path out = dir.resolve("q2.gguf");
        HfConverter.convert(hf.write(dir.resolve("qwen2"), "F32", 2), out, GgmlType.Q4_0, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("general.architecture")).isEqualTo("qwen2");
            assertThat(f.hasTensor("blk.0.attn_q_norm.weight")).isFalse();
            assertThat(f.hasTensor("blk.0.attn_output.bias")).isFalse();
            for (int l = 0; l < 2; l++) {
                String p = "model.layers." + l + ".self_attn.", b = "blk." + l + ".";
                for (String m : List.of("q", "k", "v")) {
                    GgufFile.TensorInfo bias = f.tensors().get(b + "attn_" + m + ".bias");
                    assertThat(bias.type()).isEqualTo(GgmlType.F32);
                    assertThat(bias.dims()).containsExactly(m.equals("q") ? 64 : 32);
                    assertThat(f.bytes(b + "attn_" + m + ".bias").toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN))).containsExactly(hf.tensors.get(p + m + "_proj.bias").values());
                }
            }
        }
        HfConverter.convert(dir.resolve("qwen2"), out, GgmlType.F32, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            Close.check(f, "blk.1.attn_q.weight", hf.tensors.get("model.layers.1.self_attn.q_proj.weight").values());
            Close.check(f, "blk.1.attn_k.weight", hf.tensors.get("model.layers.1.self_attn.k_proj.weight").values());
        }
    }

    @Test
    void missingLmHeadMeansTiedEvenWhenConfigSaysOtherwise() throws IOException {
        HfFolder hf = llama(true);
        hf.config.put("tie_word_embeddings", false);
        Path out = dir.resolve("t.gguf");
        HfConverter.convert(hf.write(dir.resolve("tied"), "F32", 2), out, GgmlType.F32, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.hasTensor("output.weight")).isFalse();
        }
    }

    @Test
    void smallMappedWindowsGiveTheSameResult() throws IOException {
        HfFolder hf = llama(false);
        Path in = hf.write(dir.resolve("w"), "F32", 1);
        long saved = HfConverter.windowBytes;
        HfConverter.windowBytes = 3 * 64 * 4; // 3 rows: one head of K (16 rows) per window, 3 rows elsewhere
        try {
            HfConverter.convert(in, dir.resolve("w.gguf"), GgmlType.F32, Map.of(), Progress.NONE);
        } finally {
            HfConverter.windowBytes = saved;
        }
        try (GgufFile f = GgufFile.open(dir.resolve("w.gguf"))) {
            Close.check(f, "blk.0.attn_q.weight", permuted(hf.tensors.get("model.layers.0.self_attn.q_proj.weight").values(), 64, 64, 4));
            Close.check(f, "blk.1.attn_k.weight", permuted(hf.tensors.get("model.layers.1.self_attn.k_proj.weight").values(), 32, 64, 2));
            Close.check(f, "token_embd.weight", hf.tensors.get("model.embed_tokens.weight").values());
            Close.check(f, "blk.1.ffn_down.weight", hf.tensors.get("model.layers.1.mlp.down_proj.weight").values());
        }
    }

    @Test
    void mistralIsLlama() throws IOException {
        HfFolder hf = HfFolder.of("MistralForCausalLM", 64, 128, 1, 4, 1, 16, 32, false, 3);
        Path out = dir.resolve("mi.gguf");
        HfConverter.convert(hf.write(dir.resolve("mistral"), "F32", 1), out, GgmlType.F32, Map.of(), Progress.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("general.architecture")).isEqualTo("llama");
            Close.check(f, "blk.0.attn_k.weight", permuted(hf.tensors.get("model.layers.0.self_attn.k_proj.weight").values(), 16, 64, 1));
        }
    }

    @Test
    void permutedRowInterleavesTheTwoHalvesOfEachHead() {
        int[] rows = new int[8];
        for (int r = 0; r < 8; r++) rows[r] = HfConverter.permutedRow(r, 8, 2);
        assertThat(rows).containsExactly(0, 2, 1, 3, 4, 6, 5, 7);
    }

    @Test
    void llama31RopeFreqsRunFromOneToTheFactor() {
        var cfg = new dev.herd.model.ModelConfig(dev.herd.model.Arch.LLAMA, 4096, 14336, 32, 32, 8, 128, 128256, 131072, 1e-5f, 500000f,
                new dev.herd.model.ModelConfig.RopeScaling(8, 1, 4, 8192), false);
        float[] f = cfg.ropeFreqs();
        assertThat(f).hasSize(64);
        assertThat(f[0]).isEqualTo(1f);
        assertThat(f[63]).isEqualTo(8f);
        for (int i = 1; i < 64; i++) assertThat(f[i]).isGreaterThanOrEqualTo(f[i - 1]);
        assertThat(f[28]).isEqualTo(1f);  // wavelength 2π·500000^(i/64) crosses 8192/4 after i = 28 and 8192 after i = 34
        assertThat(f[29]).isBetween(1.01f, 7.99f);
        assertThat(f[34]).isBetween(1.01f, 7.99f);
        assertThat(f[35]).isEqualTo(8f);
    }

    @Test
    void unsupportedArchitectureIsNamed() throws IOException {
        HfFolder hf = llama(false);
        hf.config.put("architectures", List.of("Gemma2ForCausalLM"));
        Path in = hf.write(dir.resolve("g"), "F32", 1);
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .isInstanceOf(HerdException.class).hasMessageContaining("Gemma2ForCausalLM").hasMessageContaining("config.json");
    }

    /** Gemma's configs omit tie_word_embeddings (GemmaConfig's default: tied) and name gelu; silu would be another model. */
    @Test
    void gemmaIsTiedByDefaultAndTakesGeluOnly() throws IOException {
        HfFolder hf = HfFolder.of("GemmaForCausalLM", 64, 128, 1, 4, 1, 16, 32, true, 3);
        hf.config.remove("tie_word_embeddings");
        hf.config.put("hidden_act", "gelu");
        assertThat(HfConverter.config(hf.write(dir.resolve("gemma"), "F32", 1)).tied()).isTrue();
        hf.config.put("hidden_activation", "silu");
        Path silu = hf.write(dir.resolve("gemma-silu"), "F32", 1);
        assertThatThrownBy(() -> HfConverter.config(silu)).isInstanceOf(HerdException.class)
                .hasMessageEndingWith("hidden_activation 'silu' is not supported (GemmaForCausalLM: gelu_pytorch_tanh)");
    }

    @Test
    void unsupportedDtypeNamesDtypeAndTensor() throws IOException {
        Path in = llama(false).write(dir.resolve("i"), "F32", 1);
        // relabel one tensor as I32 (same byte count)
        Path file = in.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(file);
        String s = new String(b, java.nio.charset.StandardCharsets.ISO_8859_1)
                .replaceFirst("(\"model.norm.weight\":\\{[^}]*)\"F32\"", "$1\"I32\"");
        Files.write(file, s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .hasMessageContaining("I32").hasMessageContaining("model.norm.weight");
        assertThat(dir.resolve("x.gguf")).doesNotExist();
    }

    @Test
    void shapeMismatchWithConfigIsReported() throws IOException {
        HfFolder hf = llama(false);
        Path in = hf.write(dir.resolve("s"), "F32", 1);
        hf.config.put("intermediate_size", 256);
        HfFolder.JSON.writeValue(in.resolve("config.json").toFile(), hf.config);
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .hasMessageContaining("mlp.gate_proj.weight").hasMessageContaining("[128, 64]").hasMessageContaining("[256, 64]");
    }

    @Test
    void missingShardIsNamed() throws IOException {
        Path in = llama(false).write(dir.resolve("m"), "F32", 3);
        Files.delete(in.resolve("model-00002-of-00003.safetensors"));
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .isInstanceOf(HerdException.class).hasMessageContaining("model-00002-of-00003.safetensors").hasMessageContaining("missing");
    }

    @Test
    void badHeaderLengthAndBadJsonAreReported() throws IOException {
        Path in = llama(false).write(dir.resolve("h"), "F32", 1);
        Path file = in.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(file);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(file, b);
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .hasMessageContaining("model.safetensors").hasMessageContaining("bad safetensors header length");
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 20);
        Files.write(file, b);
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .hasMessageContaining("model.safetensors").hasMessageContaining("not valid JSON");
    }

    @Test
    void truncatedSafetensorsIsReported() throws IOException {
        Path in = llama(false).write(dir.resolve("c"), "F32", 1);
        Path file = in.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(b, b.length - 100));
        assertThatThrownBy(() -> HfConverter.convert(in, dir.resolve("x.gguf"), GgmlType.F32, Map.of(), Progress.NONE))
                .hasMessageContaining("lm_head.weight").hasMessageContaining("truncated");
    }

    /** llama.cpp's mixtures straight from the folder equal those made from its F32 GGUF (checked against llama.cpp in KQuantConvertTest). */
    @ParameterizedTest
    @ValueSource(strings = {"q4_k_m", "q6_k"})
    void llamaCppMixturesComeOutAsFromTheF32Gguf(String wt) throws IOException {
        Path in = llama(false).write(dir.resolve("llama"), "BF16", 1);
        Path direct = dir.resolve("direct.gguf"), f32 = dir.resolve("f32.gguf"), viaGguf = dir.resolve("via.gguf");
        HfConverter.convert(in, direct, WeightTypes.parse(wt), Map.of(), Progress.NONE);
        HfConverter.convert(in, f32, GgmlType.F32, Map.of(), Progress.NONE);
        GgufRequantizer.convert(f32, viaGguf, WeightTypes.parse(wt), Map.of(), Progress.NONE);
        try (GgufFile a = GgufFile.open(direct); GgufFile b = GgufFile.open(viaGguf)) {
            assertThat(a.tensors().get("blk.0.attn_q.weight").type()).isEqualTo(wt.equals("q6_k") ? GgmlType.Q8_0 : GgmlType.Q5_0); // 64-wide rows
            assertThat(a.tensors().get("output.weight").type()).isEqualTo(GgmlType.Q8_0);
            for (GgufFile.TensorInfo t : b.tensors().values()) {
                assertThat(a.tensors().get(t.name()).type()).as(t.name()).isEqualTo(t.type());
                assertThat(a.bytes(t.name()).mismatch(b.bytes(t.name()))).as(t.name()).isEqualTo(-1);
            }
            assertThat(a.integer("general.file_type")).isEqualTo(wt.equals("q6_k") ? 18 : 15);
        }
    }

    @Test
    void unknownWeightTypeListsTheChoices() {
        assertThatThrownBy(() -> WeightTypes.parse("q4k")).hasMessageContaining("q4k").hasMessageContaining("q40, q80");
    }
}
