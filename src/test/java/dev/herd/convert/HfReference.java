package dev.herd.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.format.Safetensors;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A slow scalar forward pass with transformers' semantics, reading config.json and the safetensors of a Hugging Face
 * folder directly: Q/K rows in HF order with rotate-half RoPE (no permutation), llama3 inv_freq scaling as
 * transformers computes it, Qwen2's q/k/v biases, Qwen3's per-head q/k RMSNorm before RoPE, Gemma's scaled embedding,
 * 1 + w norms and GELU. Double sums, one token at a time.
 */
final class HfReference {
    private final Map<String, float[]> w = new HashMap<>();
    private final int dim, layers, heads, kvHeads, hd, vocab;
    private final double eps;
    /** Experts per token, and Qwen3 MoE's norm_topk_prob, of a mixture of experts. */
    private final int used;
    private final boolean normTopK;
    /** Gemma: the embedding times sqrt(dim), RMSNorm by 1 + w, GELU (tanh) in the MLP. */
    private final boolean gemma;
    private final double[] invFreq;
    private final float[][][] keys, values; // [layer][pos][kvDim]
    /** Pairs rope as (2i, 2i+1) instead of (i, i+half): what the engine would compute from unpermuted llama weights. */
    boolean interleaved;

    HfReference(Path dir, int maxSeq) {
        JsonNode c = Safetensors.json(dir.resolve("config.json"));
        dim = c.get("hidden_size").asInt();
        layers = c.get("num_hidden_layers").asInt();
        heads = c.get("num_attention_heads").asInt();
        kvHeads = c.get("num_key_value_heads").asInt();
        hd = c.path("head_dim").asInt(dim / heads);
        vocab = c.get("vocab_size").asInt();
        eps = c.get("rms_norm_eps").asDouble();
        used = c.path("num_experts_per_tok").asInt(0);
        normTopK = c.path("norm_topk_prob").asBoolean(false);
        gemma = c.path("architectures").path(0).asText().startsWith("Gemma");
        invFreq = invFreq(c.get("rope_theta").asDouble(), hd, c.path("rope_scaling"));
        Safetensors st = Safetensors.open(dir);
        try (Arena arena = Arena.ofConfined()) {
            st.tensors().forEach((name, e) -> {
                float[] v = new float[(int) e.elements()];
                Safetensors.read(e, Safetensors.map(e, 0, e.bytes(), arena), 0, v, 0, v.length);
                w.put(name, v);
            });
        }
        keys = new float[layers][maxSeq][];
        values = new float[layers][maxSeq][];
    }

    /** transformers' _compute_llama3_parameters, or the plain inverse frequencies. */
    static double[] invFreq(double theta, int hd, JsonNode scaling) {
        double[] f = new double[hd / 2];
        for (int i = 0; i < f.length; i++) f[i] = 1 / Math.pow(theta, 2.0 * i / hd);
        if (!scaling.path("rope_type").asText("").equals("llama3")) return f;
        double factor = scaling.get("factor").asDouble(), low = scaling.get("low_freq_factor").asDouble(),
                high = scaling.get("high_freq_factor").asDouble(), old = scaling.get("original_max_position_embeddings").asDouble();
        for (int i = 0; i < f.length; i++) {
            double wavelen = 2 * Math.PI / f[i];
            if (wavelen > old / low) f[i] /= factor;
            else if (wavelen >= old / high) {
                double smooth = (old / wavelen - low) / (high - low);
                f[i] = (1 - smooth) * f[i] / factor + smooth * f[i];
            }
        }
        return f;
    }

    float[] forward(int token, int pos) {
        float[] x = new float[dim];
        System.arraycopy(w.get("model.embed_tokens.weight"), token * dim, x, 0, dim);
        if (gemma) for (int i = 0; i < dim; i++) x[i] *= (float) Math.sqrt(dim); // normalizer = tensor(hidden_size ** 0.5)
        int group = heads / kvHeads;
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            float[] xn = rmsnorm(x, 0, dim, w.get(p + "input_layernorm.weight"));
            float[] q = linear(p + "self_attn.q_proj", xn), k = linear(p + "self_attn.k_proj", xn);
            for (int h = 0; h < heads; h++) normAndRope(q, h * hd, w.get(p + "self_attn.q_norm.weight"), pos);
            for (int h = 0; h < kvHeads; h++) normAndRope(k, h * hd, w.get(p + "self_attn.k_norm.weight"), pos);
            keys[l][pos] = k;
            values[l][pos] = linear(p + "self_attn.v_proj", xn);
            float[] att = new float[heads * hd];
            for (int h = 0; h < heads; h++) {
                int kv = h / group * hd;
                double[] s = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int t = 0; t <= pos; t++) {
                    for (int i = 0; i < hd; i++) s[t] += (double) q[h * hd + i] * keys[l][t][kv + i];
                    max = Math.max(max, s[t] /= Math.sqrt(hd));
                }
                for (int t = 0; t <= pos; t++) sum += s[t] = Math.exp(s[t] - max);
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int t = 0; t <= pos; t++) a += s[t] * values[l][t][kv + i];
                    att[h * hd + i] = (float) (a / sum);
                }
            }
            add(x, matmul(p + "self_attn.o_proj.weight", att));
            xn = rmsnorm(x, 0, dim, w.get(p + "post_attention_layernorm.weight"));
            if (w.containsKey(p + "mlp.gate_proj.weight")) add(x, mlp(p + "mlp.", "gate_proj", "up_proj", "down_proj", xn));
            else if (w.containsKey(p + "mlp.gate.weight")) add(x, sparse(p + "mlp.", "gate_proj", "up_proj", "down_proj", normTopK, xn));
            else add(x, sparse(p + "block_sparse_moe.", "w1", "w3", "w2", true, xn));
        }
        return matmul(w.containsKey("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight",
                rmsnorm(x, 0, dim, w.get("model.norm.weight")));
    }

    /** down(silu(gate x) * up x), the matrices named prefix + name + ".weight". */
    private float[] mlp(String prefix, String gate, String up, String down, float[] xn) {
        float[] g = matmul(prefix + gate + ".weight", xn), u = matmul(prefix + up + ".weight", xn);
        for (int i = 0; i < g.length; i++) g[i] = (float) ((gemma ? geluTanh(g[i]) : g[i] / (1 + Math.exp(-g[i]))) * u[i]);
        return matmul(prefix + down + ".weight", g);
    }

    /**
     * transformers' Qwen3MoeSparseMoeBlock / MixtralSparseMoeBlock / Qwen2MoeSparseMoeBlock: softmax of the router
     * logits, top-k, the top-k weights divided by their sum if normTopK (Mixtral always), then the weighted experts'
     * MLPs, and Qwen2 MoE's shared expert weighted by the sigmoid of its gate.
     */
    private float[] sparse(String prefix, String gate, String up, String down, boolean normTopK, float[] xn) {
        float[] logits = matmul(prefix + "gate.weight", xn);
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[logits.length];
        for (int e = 0; e < p.length; e++) sum += p[e] = Math.exp(logits[e] - max);
        Integer[] order = new Integer[p.length];
        for (int e = 0; e < p.length; e++) order[e] = e;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double chosen = 0;
        for (int j = 0; j < used; j++) chosen += p[order[j]];
        float[] out = new float[dim];
        for (int j = 0; j < used; j++) {
            double weight = p[order[j]] / (normTopK ? chosen : sum);
            float[] y = mlp(prefix + "experts." + order[j] + ".", gate, up, down, xn);
            for (int i = 0; i < dim; i++) out[i] += (float) (weight * y[i]);
        }
        if (w.containsKey(prefix + "shared_expert_gate.weight")) { // Qwen2MoeSparseMoeBlock: + sigmoid(gate x) * shared_expert(x)
            double gateOf = 1 / (1 + Math.exp(-matmul(prefix + "shared_expert_gate.weight", xn)[0]));
            float[] y = mlp(prefix + "shared_expert.", gate, up, down, xn);
            for (int i = 0; i < dim; i++) out[i] += (float) (gateOf * y[i]);
        }
        return out;
    }

    /** transformers' gelu_pytorch_tanh. */
    private static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * Math.pow(x, 3))));
    }

    /** q = q * cos + rotate_half(q) * sin, with rotate_half(x) = cat(-x[half:], x[:half]). */
    private void normAndRope(float[] x, int off, float[] norm, int pos) {
        if (norm != null) System.arraycopy(rmsnorm(x, off, hd, norm), 0, x, off, hd);
        int half = hd / 2;
        for (int i = 0; i < half; i++) {
            double c = Math.cos(pos * invFreq[i]), s = Math.sin(pos * invFreq[i]);
            int a = interleaved ? off + 2 * i : off + i, b = interleaved ? a + 1 : a + half;
            double x0 = x[a], x1 = x[b];
            x[a] = (float) (x0 * c - x1 * s);
            x[b] = (float) (x1 * c + x0 * s);
        }
    }

    private float[] rmsnorm(float[] x, int off, int n, float[] weight) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double) x[off + i] * x[off + i];
        double inv = 1 / Math.sqrt(ss / n + eps);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) (x[off + i] * inv * (gemma ? 1 + weight[i] : weight[i]));
        return out;
    }

    /** torch's Linear: W x, plus the bias when the folder has one (Qwen2's q/k/v projections). */
    private float[] linear(String name, float[] x) {
        float[] y = matmul(name + ".weight", x), bias = w.get(name + ".bias");
        if (bias != null) add(y, bias);
        return y;
    }

    /** y = W x with W stored [out, in] as torch's Linear keeps it. */
    private float[] matmul(String name, float[] x) {
        float[] m = w.get(name);
        float[] out = new float[m.length / x.length];
        for (int r = 0; r < out.length; r++) {
            double sum = 0;
            for (int i = 0; i < x.length; i++) sum += (double) m[r * x.length + i] * x[i];
            out[r] = (float) sum;
        }
        return out;
    }

    private static void add(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }

    int vocab() {
        return vocab;
    }
}
