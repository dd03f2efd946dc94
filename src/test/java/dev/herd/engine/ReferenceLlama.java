package dev.herd.engine;

import java.util.Arrays;
import java.util.Map;

/**
 * A slow, obviously correct forward pass (Llama, Qwen2 with Q/K/V biases, Qwen3 with q/k norms, and a mixture of
 * experts in place of the FFN for Mixtral, Qwen3 MoE and Qwen2 MoE, whose shared expert is added with its sigmoid gate;
 * Gemma with GeGLU and its embedding times sqrt(dim)): one token at a time, plain float loops with double sums, no threads,
 * weights already dequantized to floats. If the engine's kernel quantizes activations to Q8_0 (as ggml does for
 * quantized weights), {@code q8Activations} makes this reference round the matmul inputs the same way, so the
 * two compute the same arithmetic and can be compared tightly.
 */
final class ReferenceLlama {
    private final SyntheticModel.Spec s;
    private final Map<String, float[]> w;
    private final float[] divisors;
    private final boolean q8Activations;
    private final float[][][] keys, values; // [layer][pos][kvDim]

    ReferenceLlama(SyntheticModel.Spec spec, Map<String, float[]> weights, float[] divisors, boolean q8Activations, int maxSeq) {
        this.s = spec;
        this.w = weights;
        this.divisors = divisors;
        this.q8Activations = q8Activations;
        int kvDim = spec.kvHeads() * spec.headDim();
        keys = new float[spec.layers()][maxSeq][kvDim];
        values = new float[spec.layers()][maxSeq][kvDim];
    }

    float[] forward(int token, int pos) {
        int dim = s.dim(), hd = s.headDim(), qDim = s.heads() * hd, group = s.heads() / s.kvHeads();
        float[] x = new float[dim];
        System.arraycopy(w.get("token_embd.weight"), token * dim, x, 0, dim);
        if (s.gemma()) for (int i = 0; i < dim; i++) x[i] *= (float) Math.sqrt(dim);
        for (int l = 0; l < s.layers(); l++) {
            String b = "blk." + l + ".";
            float[] xn = rmsnorm(x, w.get(b + "attn_norm.weight"));
            float[] q = add(matmul(b + "attn_q.weight", xn, qDim), w.get(b + "attn_q.bias"));
            float[] k = add(matmul(b + "attn_k.weight", xn, s.kvHeads() * hd), w.get(b + "attn_k.bias"));
            float[] v = add(matmul(b + "attn_v.weight", xn, s.kvHeads() * hd), w.get(b + "attn_v.bias"));
            for (int h = 0; h < s.heads(); h++) headNormAndRope(q, h * hd, w.get(b + "attn_q_norm.weight"), pos);
            for (int h = 0; h < s.kvHeads(); h++) headNormAndRope(k, h * hd, w.get(b + "attn_k_norm.weight"), pos);
            keys[l][pos] = k;
            values[l][pos] = v;
            float[] att = new float[qDim];
            for (int h = 0; h < s.heads(); h++) {
                int kvOff = h / group * hd;
                double[] score = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[h * hd + i] * keys[l][t][kvOff + i];
                    score[t] = dot / Math.sqrt(hd);
                    max = Math.max(max, score[t]);
                }
                double sum = 0;
                for (int t = 0; t <= pos; t++) sum += score[t] = Math.exp(score[t] - max);
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int t = 0; t <= pos; t++) a += score[t] / sum * values[l][t][kvOff + i];
                    att[h * hd + i] = (float) a;
                }
            }
            add(x, matmul(b + "attn_output.weight", att, dim));
            xn = rmsnorm(x, w.get(b + "ffn_norm.weight"));
            if (s.experts() == 0) {
                add(x, swiGlu(b + "ffn_gate.weight", b + "ffn_up.weight", b + "ffn_down.weight", 0, s.hidden(), xn));
                continue;
            }
            add(x, mixture(b, xn));
        }
        float[] xn = rmsnorm(x, w.get("output_norm.weight"));
        return matmul(w.containsKey("output.weight") ? "output.weight" : "token_embd.weight", xn, s.vocab());
    }

    /** The mixture of experts of layer prefix b: the router reads the normed floats (never Q8_0); the best `used` logits, first index on ties. */
    private float[] mixture(String b, float[] xn) {
        int dim = s.dim();
        float[] logits = new float[s.experts()];
        float[] router = w.get(b + "ffn_gate_inp.weight");
        for (int e = 0; e < s.experts(); e++) {
            double dot = 0;
            for (int i = 0; i < dim; i++) dot += (double) router[e * dim + i] * xn[i];
            logits[e] = (float) dot;
        }
        Integer[] order = new Integer[s.experts()];
        for (int e = 0; e < order.length; e++) order[e] = e;
        Arrays.sort(order, (p, q) -> Float.compare(logits[q], logits[p])); // stable: ties keep index order
        double[] weight = new double[s.used()];
        double sum = 0;
        for (int j = 0; j < s.used(); j++) sum += weight[j] = Math.exp(logits[order[j]]);
        if (!s.normalized()) {
            sum = 0;
            for (float l : logits) sum += Math.exp(l);
        }
        float[] out = new float[dim];
        for (int j = 0; j < s.used(); j++) {
            float[] y = swiGlu(b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", order[j], s.hidden(), xn);
            for (int i = 0; i < dim; i++) out[i] += (float) (weight[j] / sum * y[i]);
        }
        float[] sharedGate = w.get(b + "ffn_gate_inp_shexp.weight");
        if (sharedGate != null) {
            double logit = 0;
            for (int i = 0; i < dim; i++) logit += (double) sharedGate[i] * xn[i];
            double gate = 1 / (1 + Math.exp(-logit));
            int width = w.get(b + "ffn_up_shexp.weight").length / dim;
            float[] y = swiGlu(b + "ffn_gate_shexp.weight", b + "ffn_up_shexp.weight", b + "ffn_down_shexp.weight", 0, width, xn);
            for (int i = 0; i < dim; i++) out[i] += (float) (gate * y[i]);
        }
        return out;
    }

    /** down (silu(gate x) * up x) with the matrices (of width h) of expert {@code e} of stacked tensors (0 for a single FFN). */
    private float[] swiGlu(String gate, String up, String down, int e, int h, float[] xn) {
        int dim = s.dim();
        float[] g = matmul(gate, e * h, xn, h);
        float[] u = matmul(up, e * h, xn, h);
        for (int i = 0; i < g.length; i++) g[i] = (float) ((s.gemma() ? gelu(g[i]) : g[i] / (1 + Math.exp(-g[i]))) * u[i]);
        return matmul(down, e * dim, g, dim);
    }

    /** GELU, tanh approximation (Gemma's gelu_pytorch_tanh), in double. */
    private static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private void headNormAndRope(float[] x, int off, float[] norm, int pos) {
        int hd = s.headDim(), half = hd / 2;
        if (norm != null) {
            float[] head = new float[hd];
            System.arraycopy(x, off, head, 0, hd);
            System.arraycopy(rmsnorm(head, norm), 0, x, off, hd);
        }
        for (int i = 0; i < half; i++) {
            double freq = Math.pow(s.theta(), -2.0 * i / hd) / (divisors == null ? 1 : divisors[i]);
            double c = Math.cos(pos * freq), sn = Math.sin(pos * freq);
            int a = s.neox() ? off + i : off + 2 * i, b = s.neox() ? off + i + half : off + 2 * i + 1;
            double x0 = x[a], x1 = x[b];
            x[a] = (float) (x0 * c - x1 * sn);
            x[b] = (float) (x0 * sn + x1 * c);
        }
    }

    static float[] llama3Divisors(float theta, int headDim, float factor, float low, float high, int original) {
        float[] d = new float[headDim / 2];
        for (int i = 0; i < d.length; i++) {
            double wavelen = 2 * Math.PI * Math.pow(theta, 2.0 * i / headDim);
            if (wavelen < original / high) d[i] = 1;
            else if (wavelen > original / low) d[i] = factor;
            else {
                double smooth = (original / wavelen - low) / (high - low);
                d[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return d;
    }

    private float[] rmsnorm(float[] x, float[] weight) {
        double ss = 0;
        for (float v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + SyntheticModel.EPS);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) (x[i] * inv * weight[i]);
        return out;
    }

    private float[] matmul(String name, float[] x, int rows) {
        return matmul(name, 0, x, rows);
    }

    /** Rows first .. first + rows of the matrix times x. */
    private float[] matmul(String name, int first, float[] x, int rows) {
        float[] m = w.get(name);
        int cols = x.length;
        if (q8Activations) x = q8(x);
        float[] out = new float[rows];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += (double) m[(first + r) * cols + i] * x[i];
            out[r] = (float) sum;
        }
        return out;
    }

    /** x rounded through Q8_0 blocks, as ggml quantizes activations. */
    private static float[] q8(float[] x) {
        float[] y = new float[x.length];
        for (int blk = 0; blk < x.length; blk += 32) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[blk + i]));
            float d = amax / 127, id = d != 0 ? 1 / d : 0;
            for (int i = 0; i < 32; i++) y[blk + i] = d * SyntheticModel.roundf(x[blk + i] * id);
        }
        return y;
    }

    /** x += y, unless y is null (a bias the model does not have); returns x. */
    private static float[] add(float[] x, float[] y) {
        if (y != null) for (int i = 0; i < x.length; i++) x[i] += y[i];
        return x;
    }
}
