package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelConfig.RopeScaling;
import dev.herd.model.ModelTensor;

import java.util.LinkedHashMap;
import java.util.Map;

/** A {@link ModelConfig} as GGUF metadata, with llama.cpp's keys ("{arch}.embedding_length", ...): read and written. */
public final class GgufConfig {
    private GgufConfig() {}

    public static ModelConfig read(GgufFile f) {
        String name = f.string("general.architecture");
        Arch arch = Arch.ofGguf(name);
        if (arch == null) {
            throw new HerdException(f.path() + ": architecture " + FileText.quote(name) + " is not supported (supported: " + Arch.supported() + ")");
        }
        String p = name + ".";
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
        ModelConfig.Moe moe = moe(f, p, arch);
        String ffn = moe != null && f.has(p + "expert_feed_forward_length") ? "expert_feed_forward_length" : "feed_forward_length";
        return new ModelConfig(arch, dim,
                width(f, p + ffn, f.integer(p + ffn)),
                atMost(f, p + "block_count", f.integer(p + "block_count"), Limits.MAX_LAYERS),
                heads, kvHeads, headDim, vocab(f, p),
                positive(f, p + "context_length", f.integer(p + "context_length")),
                eps, theta, ropeDim, scaling(f, p), !f.hasTensor(ModelTensor.OUTPUT.gguf), moe);
    }

    /**
     * The mixture of experts: expert_count experts of which expert_used_count run per token, their weights
     * renormalized unless expert_weights_norm is false (llama.cpp renormalizes for Mixtral and Qwen3 MoE, never for Qwen2
     * MoE, whose shared expert's width is expert_shared_feed_forward_length). A model
     * without expert_count (or with 0, which llama.cpp writes for dense models) has none, unless its architecture
     * requires one.
     */
    private static ModelConfig.Moe moe(GgufFile f, String p, Arch arch) {
        String count = p + "expert_count", used = p + "expert_used_count", norm = p + "expert_weights_norm";
        if (!arch.moe && f.integer(count, 0) == 0) return null;
        if (!f.has(count)) throw new HerdException(f.path() + ": metadata key '" + count + "' is missing (" + arch.gguf + " is a mixture of experts)");
        long experts = f.integer(count), k = f.integer(used, 0);
        String why = ModelConfig.Moe.invalidReason(experts, k);
        if (why != null) throw new HerdException(f.path() + ": metadata keys '" + count + "' = " + experts + ", '" + used + "' = " + k + ": " + why);
        // llama.cpp never renormalizes Qwen2 MoE's weights (nor writes the key for it)
        Object normalized = f.metadata().getOrDefault(norm, arch != Arch.QWEN2MOE);
        if (!(normalized instanceof Boolean b)) throw new HerdException(f.path() + ": metadata key '" + norm + "' is not a boolean");
        String shared = p + "expert_shared_feed_forward_length";
        int sharedWidth = arch == Arch.QWEN2MOE ? width(f, shared, f.integer(shared)) : 0;
        return new ModelConfig.Moe((int) experts, (int) k, b, sharedWidth);
    }

    /** GGUF metadata with llama.cpp's keys (tokenizer entries are added by the caller). */
    public static Map<String, Object> metadata(ModelConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        String a = c.arch().gguf + ".";
        m.put("general.architecture", c.arch().gguf);
        m.put(a + "context_length", c.contextLength());
        m.put(a + "embedding_length", c.dim());
        m.put(a + "block_count", c.layers());
        m.put(a + "feed_forward_length", c.hidden());
        m.put(a + "attention.head_count", c.heads());
        m.put(a + "attention.head_count_kv", c.kvHeads());
        m.put(a + "attention.key_length", c.headDim());
        m.put(a + "attention.value_length", c.headDim());
        m.put(a + "attention.layer_norm_rms_epsilon", c.eps());
        m.put(a + "rope.freq_base", c.ropeTheta());
        m.put(a + "rope.dimension_count", c.ropeDim());
        m.put(a + "vocab_size", c.vocab());
        if (c.moe() != null) {
            m.put(a + "expert_count", c.moe().experts());
            m.put(a + "expert_used_count", c.moe().used());
            m.put(a + "expert_feed_forward_length", c.hidden());
            m.put(a + "expert_weights_norm", c.moe().normalized());
            if (c.shared() > 0) m.put(a + "expert_shared_feed_forward_length", c.shared());
        }
        RopeScaling s = c.scaling();
        if (s != null) {
            m.put(a + "rope.scaling.type", "llama3");
            m.put(a + "rope.scaling.factor", s.factor());
            m.put(a + "rope.scaling.original_context_length", s.originalContext());
            m.put(a + "rope.scaling.low_freq_factor", s.lowFreqFactor());
            m.put(a + "rope.scaling.high_freq_factor", s.highFreqFactor());
        }
        return m;
    }

    private static int vocab(GgufFile f, String p) {
        if (f.has(p + "vocab_size")) return atMost(f, p + "vocab_size", f.integer(p + "vocab_size"), Limits.MAX_VOCAB);
        GgufFile.TensorInfo embd = f.tensors().get(ModelTensor.TOKEN_EMBD.gguf);
        if (embd == null) throw new HerdException(f.path() + ": tensor '" + ModelTensor.TOKEN_EMBD.gguf + "' is missing");
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
