package dev.herd.format;

import dev.herd.tensor.GgmlType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape and hyperparameters of a Llama-family model, and how they appear in a GGUF file with llama.cpp's names.
 * {@code arch} is "llama" (interleaved rope, Q/K permuted) or "qwen3" (NeoX rope, per-head Q/K norms).
 */
public record ModelConfig(String arch, int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
                          int context, float normEps, float ropeTheta, RopeScaling scaling, boolean tied) {

    /** Llama 3.1 rope frequency scaling ("rope_type": "llama3"). */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContext) {}

    public enum Kind { EMBEDDING, MATRIX, NORM, ROPE }

    /** A tensor as rows x cols (a vector has one row); GGUF dims are {cols, rows}, or {cols} for a vector. */
    public record TensorSpec(String name, Kind kind, int rows, int cols) {
        public long[] dims() {
            return kind == Kind.NORM || kind == Kind.ROPE ? new long[]{cols} : new long[]{cols, rows};
        }

        public long elements() {
            return (long) rows * cols;
        }

        /** Norms and rope factors stay F32; matrices and the embedding take the chosen weight type. */
        public GgmlType type(GgmlType weights) {
            return kind == Kind.NORM || kind == Kind.ROPE ? GgmlType.F32 : weights;
        }
    }

    public ModelConfig {
        if (!arch.equals("llama") && !arch.equals("qwen3")) throw new IllegalArgumentException("architecture " + arch);
    }

    public boolean qwen3() {
        return arch.equals("qwen3");
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Tensors in the order Herd writes them. */
    public List<TensorSpec> tensors() {
        List<TensorSpec> t = new ArrayList<>();
        t.add(new TensorSpec("token_embd.weight", Kind.EMBEDDING, vocab, dim));
        if (scaling != null) t.add(new TensorSpec("rope_freqs.weight", Kind.ROPE, 1, headDim / 2));
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            t.add(new TensorSpec(b + "attn_norm.weight", Kind.NORM, 1, dim));
            t.add(new TensorSpec(b + "attn_q.weight", Kind.MATRIX, qDim(), dim));
            t.add(new TensorSpec(b + "attn_k.weight", Kind.MATRIX, kvDim(), dim));
            t.add(new TensorSpec(b + "attn_v.weight", Kind.MATRIX, kvDim(), dim));
            t.add(new TensorSpec(b + "attn_output.weight", Kind.MATRIX, dim, qDim()));
            if (qwen3()) {
                t.add(new TensorSpec(b + "attn_q_norm.weight", Kind.NORM, 1, headDim));
                t.add(new TensorSpec(b + "attn_k_norm.weight", Kind.NORM, 1, headDim));
            }
            t.add(new TensorSpec(b + "ffn_norm.weight", Kind.NORM, 1, dim));
            t.add(new TensorSpec(b + "ffn_gate.weight", Kind.MATRIX, hidden, dim));
            t.add(new TensorSpec(b + "ffn_up.weight", Kind.MATRIX, hidden, dim));
            t.add(new TensorSpec(b + "ffn_down.weight", Kind.MATRIX, dim, hidden));
        }
        t.add(new TensorSpec("output_norm.weight", Kind.NORM, 1, dim));
        if (!tied) t.add(new TensorSpec("output.weight", Kind.MATRIX, vocab, dim));
        return t;
    }

    /** GGUF metadata with llama.cpp's keys (tokenizer entries are added by the caller). */
    public Map<String, Object> metadata() {
        Map<String, Object> m = new LinkedHashMap<>();
        String a = arch + ".";
        m.put("general.architecture", arch);
        m.put(a + "context_length", context);
        m.put(a + "embedding_length", dim);
        m.put(a + "block_count", layers);
        m.put(a + "feed_forward_length", hidden);
        m.put(a + "attention.head_count", heads);
        m.put(a + "attention.head_count_kv", kvHeads);
        m.put(a + "attention.key_length", headDim);
        m.put(a + "attention.value_length", headDim);
        m.put(a + "attention.layer_norm_rms_epsilon", normEps);
        m.put(a + "rope.freq_base", ropeTheta);
        m.put(a + "rope.dimension_count", headDim);
        m.put(a + "vocab_size", vocab);
        if (scaling != null) {
            m.put(a + "rope.scaling.type", "llama3");
            m.put(a + "rope.scaling.factor", scaling.factor);
            m.put(a + "rope.scaling.original_context_length", scaling.originalContext);
            m.put(a + "rope.scaling.low_freq_factor", scaling.lowFreqFactor);
            m.put(a + "rope.scaling.high_freq_factor", scaling.highFreqFactor);
        }
        return m;
    }

    /**
     * The rope_freqs.weight divisors, computed as llama.cpp's convert_hf_to_gguf.py does for rope_type llama3:
     * 1 for high frequencies, factor for low ones, and a smooth blend in between.
     */
    public float[] ropeFreqs() {
        float[] f = new float[headDim / 2];
        double lowWavelen = scaling.originalContext / scaling.lowFreqFactor;
        double highWavelen = scaling.originalContext / scaling.highFreqFactor;
        for (int i = 0; i < f.length; i++) {
            float freq = 1f / (float) Math.pow(ropeTheta, (float) (2 * i) / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) f[i] = 1;
            else if (wavelen > lowWavelen) f[i] = scaling.factor;
            else {
                double smooth = (scaling.originalContext / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
                f[i] = (float) (1 / ((1 - smooth) / scaling.factor + smooth));
            }
        }
        return f;
    }
}
