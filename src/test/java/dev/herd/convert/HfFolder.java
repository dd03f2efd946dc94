package dev.herd.convert;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.format.Quantizer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Writes small Hugging Face model folders with random weights, and keeps the values for comparison. */
public final class HfFolder {
    public static final ObjectMapper JSON = new ObjectMapper();

    record Tensor(String name, long[] shape, float[] values) {}

    public final Map<String, Object> config = new LinkedHashMap<>();
    final Map<String, Tensor> tensors = new LinkedHashMap<>();

    /**
     * A Llama (or Qwen3 with {@code headDim} > 0, or Qwen2 with Q/K/V biases) shaped model, tensors named as
     * transformers names them.
     */
    public static HfFolder of(String architecture, int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
                       boolean tied, long seed) {
        HfFolder f = new HfFolder();
        f.config.put("architectures", List.of(architecture));
        f.config.put("hidden_size", dim);
        f.config.put("intermediate_size", hidden);
        f.config.put("num_hidden_layers", layers);
        f.config.put("num_attention_heads", heads);
        f.config.put("num_key_value_heads", kvHeads);
        if (headDim > 0) f.config.put("head_dim", headDim);
        f.config.put("vocab_size", vocab);
        f.config.put("max_position_embeddings", 2048);
        f.config.put("rms_norm_eps", 1e-6);
        f.config.put("rope_theta", 500000.0);
        f.config.put("hidden_act", "silu");
        f.config.put("tie_word_embeddings", tied);
        f.config.put("bos_token_id", 1);
        f.config.put("eos_token_id", 2);
        int hd = headDim > 0 ? headDim : dim / heads, q = heads * hd, kv = kvHeads * hd;
        Random r = new Random(seed);
        f.add(r, "model.embed_tokens.weight", vocab, dim);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            f.add(r, p + "self_attn.q_proj.weight", q, dim);
            f.add(r, p + "self_attn.k_proj.weight", kv, dim);
            f.add(r, p + "self_attn.v_proj.weight", kv, dim);
            if (architecture.startsWith("Qwen2")) { // biases about as large as the products they add to
                f.bias(r, p + "self_attn.q_proj.bias", q);
                f.bias(r, p + "self_attn.k_proj.bias", kv);
                f.bias(r, p + "self_attn.v_proj.bias", kv);
            }
            f.add(r, p + "self_attn.o_proj.weight", dim, q);
            if (architecture.startsWith("Qwen3")) {
                f.add(r, p + "self_attn.q_norm.weight", hd);
                f.add(r, p + "self_attn.k_norm.weight", hd);
            }
            f.add(r, p + "mlp.gate_proj.weight", hidden, dim);
            f.add(r, p + "mlp.up_proj.weight", hidden, dim);
            f.add(r, p + "mlp.down_proj.weight", dim, hidden);
            f.add(r, p + "input_layernorm.weight", dim);
            f.add(r, p + "post_attention_layernorm.weight", dim);
        }
        f.add(r, "model.norm.weight", dim);
        if (!tied) f.add(r, "lm_head.weight", vocab, dim);
        if (architecture.startsWith("Gemma")) { // Gemma's RMSNorm multiplies by 1 + w: its checkpoints hold w near 0
            for (Tensor t : f.tensors.values()) if (t.name().endsWith("norm.weight")) for (int i = 0; i < t.values().length; i++) t.values()[i] -= 1;
        }
        return f;
    }

    /**
     * Replaces every layer's dense MLP by a mixture of {@code experts} experts of width {@code hidden}, {@code used}
     * per token, named as transformers names Qwen3 MoE's (mlp.gate, mlp.experts.E.gate_proj ...) or, for
     * MixtralForCausalLM, Mixtral's (block_sparse_moe.gate, block_sparse_moe.experts.E.w1/w3/w2).
     */
    public HfFolder experts(int experts, int used, int hidden, boolean normTopK, long seed) {
        boolean mixtral = config.get("architectures").equals(List.of("MixtralForCausalLM"));
        int dim = (int) config.get("hidden_size"), layers = (int) config.get("num_hidden_layers");
        config.put(mixtral ? "num_local_experts" : "num_experts", experts);
        config.put("num_experts_per_tok", used);
        if (mixtral) config.put("intermediate_size", hidden);
        else {
            config.put("moe_intermediate_size", hidden);
            config.put("norm_topk_prob", normTopK);
        }
        Random r = new Random(seed);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            tensors.keySet().removeIf(n -> n.startsWith(p + "mlp."));
            String moe = p + (mixtral ? "block_sparse_moe." : "mlp.");
            add(r, moe + "gate.weight", experts, dim);
            for (int e = 0; e < experts; e++) {
                String x = moe + "experts." + e + ".";
                add(r, x + (mixtral ? "w1" : "gate_proj") + ".weight", hidden, dim);
                add(r, x + (mixtral ? "w3" : "up_proj") + ".weight", hidden, dim);
                add(r, x + (mixtral ? "w2" : "down_proj") + ".weight", dim, hidden);
            }
        }
        return this;
    }

    /**
     * Adds to every layer's mixture a shared expert of width {@code hidden} and its sigmoid gate, named as transformers
     * names Qwen2 MoE's (mlp.shared_expert.gate_proj ..., mlp.shared_expert_gate).
     */
    public HfFolder sharedExpert(int hidden, long seed) {
        int dim = (int) config.get("hidden_size"), layers = (int) config.get("num_hidden_layers");
        config.put("shared_expert_intermediate_size", hidden);
        Random r = new Random(seed);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".mlp.";
            add(r, p + "shared_expert.gate_proj.weight", hidden, dim);
            add(r, p + "shared_expert.up_proj.weight", hidden, dim);
            add(r, p + "shared_expert.down_proj.weight", dim, hidden);
            add(r, p + "shared_expert_gate.weight", 1, dim);
        }
        return this;
    }

    private void add(Random r, String name, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = shape.length == 1 ? 1 + 0.1f * (float) r.nextGaussian() : 0.05f * (float) r.nextGaussian();
        tensors.put(name, new Tensor(name, shape, v));
    }

    private void bias(Random r, String name, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = 0.2f * (float) r.nextGaussian();
        tensors.put(name, new Tensor(name, new long[]{n}, v));
    }

    /** Writes config.json and the weights in {@code shards} files (an index when more than one); BF16 rounds the kept values. */
    public Path write(Path dir, String dtype, int shards) throws IOException {
        Files.createDirectories(dir);
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        List<List<Tensor>> parts = new ArrayList<>();
        for (int i = 0; i < shards; i++) parts.add(new ArrayList<>());
        int i = 0;
        for (Tensor t : tensors.values()) parts.get(i++ * shards / tensors.size()).add(t);
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int s = 0; s < shards; s++) {
            String file = shards == 1 ? "model.safetensors" : String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
            writeSafetensors(dir.resolve(file), parts.get(s), dtype);
            for (Tensor t : parts.get(s)) weightMap.put(t.name, file);
        }
        if (shards > 1) JSON.writeValue(dir.resolve("model.safetensors.index.json").toFile(), Map.of("metadata", Map.of(), "weight_map", weightMap));
        return dir;
    }

    static void writeSafetensors(Path file, List<Tensor> tensors, String dtype) throws IOException {
        int size = dtype.equals("F32") ? 4 : 2;
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long off = 0;
        for (Tensor t : tensors) {
            long bytes = (long) t.values.length * size;
            header.put(t.name, Map.of("dtype", dtype, "shape", t.shape, "data_offsets", List.of(off, off + bytes)));
            off += bytes;
        }
        byte[] h = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(h);
            out.write(" ".repeat(padded - h.length).getBytes(StandardCharsets.US_ASCII));
            for (Tensor t : tensors) {
                ByteBuffer b = ByteBuffer.allocate(t.values.length * size).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < t.values.length; i++) {
                    if (size == 4) b.putFloat(t.values[i]);
                    else {
                        short v = dtype.equals("BF16") ? Quantizer.bf16(t.values[i]) : Float.floatToFloat16(t.values[i]);
                        b.putShort(v);
                        t.values[i] = dtype.equals("BF16") ? Float.intBitsToFloat(v << 16) : Float.float16ToFloat(v);
                    }
                }
                out.write(b.array());
            }
        }
    }
}
