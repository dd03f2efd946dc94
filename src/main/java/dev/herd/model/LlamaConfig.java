package dev.herd.model;

import dev.herd.HerdException;
import dev.herd.format.FileText;
import dev.herd.format.GgufFile;
import dev.herd.format.Limits;

/**
 * The shape and hyper-parameters of a Llama-family model (arch "llama" or "qwen3"), read from GGUF metadata.
 *
 * @param neox      RoPE rotates halves (x[i], x[i + ropeDim/2]) as Qwen3 does, instead of interleaved pairs
 * @param qkNorm    per-head RMSNorm of q and k before RoPE (Qwen3)
 * @param scaling   Llama 3.1 frequency scaling from metadata, or null (it may also come as the rope_freqs tensor)
 */
public record LlamaConfig(String arch, int dim, int hidden, int layers, int heads, int kvHeads, int headDim,
                          int vocab, int contextLength, float eps, float ropeTheta, int ropeDim,
                          boolean neox, boolean qkNorm, RopeScaling scaling) {

    /** Llama 3.1 RoPE scaling parameters, as llama.cpp reads them. */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContext) {}

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** The same model with fewer heads, FFN rows and vocabulary rows: one node's share of a split model. */
    public LlamaConfig slice(int heads, int kvHeads, int hidden, int vocab) {
        return new LlamaConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta,
                ropeDim, neox, qkNorm, scaling);
    }

    public static LlamaConfig from(GgufFile f) {
        String arch = f.string("general.architecture");
        if (!arch.equals("llama") && !arch.equals("qwen3")) {
            throw new HerdException(f.path() + ": architecture " + FileText.quote(arch) + " is not supported (llama, qwen3 are)");
        }
        String p = arch + ".";
        int dim = width(f, p + "embedding_length", f.integer(p + "embedding_length"));
        int heads = width(f, p + "attention.head_count", f.integer(p + "attention.head_count"));
        int kvHeads = width(f, p + "attention.head_count_kv", f.integer(p + "attention.head_count_kv", heads));
        if (heads % kvHeads != 0) {
            throw new HerdException(f.path() + ": metadata key '" + p + "attention.head_count_kv' = " + kvHeads
                    + " does not divide head_count " + heads);
        }
        if (!f.has(p + "attention.key_length") && dim % heads != 0) {
            throw new HerdException(f.path() + ": metadata key '" + p + "attention.head_count' = " + heads
                    + " does not divide embedding_length " + dim + " and attention.key_length is missing");
        }
        int headDim = width(f, p + "attention.key_length", f.integer(p + "attention.key_length", dim / heads));
        if (!Limits.headsFit(heads, headDim)) {
            throw new HerdException(f.path() + ": " + heads + " heads of " + headDim + " values are over the width limit of " + Limits.MAX_WIDTH);
        }
        int ropeDim = positive(f, p + "rope.dimension_count", f.integer(p + "rope.dimension_count", headDim));
        if (ropeDim > headDim || ropeDim % 2 != 0) {
            throw new HerdException(f.path() + ": metadata key '" + p + "rope.dimension_count' = " + ropeDim
                    + " must be even and at most the head size " + headDim);
        }
        float eps = f.real(p + "attention.layer_norm_rms_epsilon", Float.NaN);
        if (!(eps > 0)) {
            throw new HerdException(f.path() + ": metadata key '" + p + "attention.layer_norm_rms_epsilon' is missing or not positive");
        }
        float theta = f.real(p + "rope.freq_base", 10000f);
        if (!(theta > 0)) throw new HerdException(f.path() + ": metadata key '" + p + "rope.freq_base' = " + theta + " is not positive");
        return new LlamaConfig(arch, dim,
                width(f, p + "feed_forward_length", f.integer(p + "feed_forward_length")),
                atMost(f, p + "block_count", f.integer(p + "block_count"), Limits.MAX_LAYERS),
                heads, kvHeads, headDim, vocab(f, p),
                positive(f, p + "context_length", f.integer(p + "context_length")),
                eps, theta, ropeDim, arch.equals("qwen3"), arch.equals("qwen3"), scaling(f, p));
    }

    private static int vocab(GgufFile f, String p) {
        if (f.has(p + "vocab_size")) return atMost(f, p + "vocab_size", f.integer(p + "vocab_size"), Limits.MAX_VOCAB);
        GgufFile.TensorInfo embd = f.tensors().get("token_embd.weight");
        if (embd == null) throw new HerdException(f.path() + ": tensor 'token_embd.weight' is missing");
        long[] d = embd.dims();
        return atMost(f, "token_embd.weight rows", d.length > 1 ? d[1] : 1, Limits.MAX_VOCAB);
    }

    private static RopeScaling scaling(GgufFile f, String p) {
        String key = p + "rope.scaling.type";
        if (!f.has(key) || f.string(key).equals("none")) return null;
        if (!f.string(key).equals("llama3")) {
            throw new HerdException(f.path() + ": metadata key '" + key + "' = " + FileText.quote(f.string(key)) + " is not supported (llama3 is)");
        }
        float factor = f.real(p + "rope.scaling.factor", Float.NaN);
        float low = f.real(p + "rope.scaling.low_freq_factor", 1f);
        float high = f.real(p + "rope.scaling.high_freq_factor", 4f);
        int orig = positive(f, p + "rope.scaling.original_context_length", f.integer(p + "rope.scaling.original_context_length"));
        if (!(factor > 0)) throw new HerdException(f.path() + ": metadata key '" + p + "rope.scaling.factor' is missing or not positive");
        if (!(high > low)) {
            throw new HerdException(f.path() + ": metadata key '" + p + "rope.scaling.high_freq_factor' = " + high
                    + " must exceed low_freq_factor " + low);
        }
        return new RopeScaling(factor, low, high, orig);
    }

    private static int width(GgufFile f, String key, long v) {
        return atMost(f, key, v, Limits.MAX_WIDTH);
    }

    private static int atMost(GgufFile f, String key, long v, int max) {
        if (positive(f, key, v) > max) throw new HerdException(f.path() + ": metadata key '" + key + "' = " + v + " is over the limit of " + max);
        return (int) v;
    }

    private static int positive(GgufFile f, String key, long v) {
        if (v <= 0 || v > Integer.MAX_VALUE) {
            throw new HerdException(f.path() + ": metadata key '" + key + "' = " + v + " is out of range (must be a positive int)");
        }
        return (int) v;
    }
}
