package dev.herd.model;

import java.util.Comparator;
import java.util.List;

/**
 * The shape and hyper-parameters of a model, however it was described: GGUF metadata (format.GgufConfig), a .m header
 * (format.DllamaModel) or a Hugging Face config.json (convert.HfConverter). Also one node's share of a split model
 * ({@link #slice}).
 *
 * @param ropeDim the leading values of each head that RoPE rotates (the whole head unless a GGUF says otherwise)
 * @param scaling Llama 3.1 frequency scaling, or null (a GGUF may instead hold the factors as the rope_freqs tensor)
 * @param hidden  the FFN width: of each expert in a mixture of experts
 * @param tied    the output matrix is the token embedding
 * @param moe     the mixture of experts that replaces the dense FFN, or null
 */
public record ModelConfig(Arch arch, int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
                          int contextLength, float eps, float ropeTheta, int ropeDim, RopeScaling scaling, boolean tied, Moe moe) {

    /** Llama 3.1 RoPE scaling ("rope_type": "llama3"), as llama.cpp reads it. */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContext) {}

    /**
     * A mixture-of-experts FFN: {@code experts} SwiGLU experts of width hidden, of which each token uses the
     * {@code used} whose router logits are highest, weighted by the softmax of all logits; {@code normalized}: those
     * weights are then divided by their sum (Mixtral, Qwen3 MoE's norm_topk_prob), i.e. a softmax over the chosen.
     * {@code shared}: the width of a shared expert that every token runs beside the chosen ones, its output weighted
     * by a sigmoid gate of its own (Qwen2 MoE), or 0 for none.
     */
    public record Moe(int experts, int used, boolean normalized, int shared) {
        public Moe(int experts, int used, boolean normalized) {
            this(experts, used, normalized, 0);
        }

        /** Why these counts cannot describe a model, or null. */
        public static String invalidReason(long experts, long used) {
            if (experts < 1 || experts > MAX_EXPERTS) return "expert count " + experts + " is outside 1.." + MAX_EXPERTS;
            if (used < 1 || used > experts) return "experts used per token " + used + " is outside 1.." + experts + " (the expert count)";
            return null;
        }
    }

    public static final int MAX_EXPERTS = 1024;

    public ModelConfig(Arch arch, int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
                       int contextLength, float eps, float ropeTheta, int ropeDim, RopeScaling scaling, boolean tied) {
        this(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta, ropeDim, scaling, tied, null);
    }

    /** A model whose RoPE rotates whole heads. */
    public ModelConfig(Arch arch, int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
                       int contextLength, float eps, float ropeTheta, RopeScaling scaling, boolean tied) {
        this(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta, headDim, scaling, tied, null);
    }

    /** The same model with a mixture of experts (or, null, a dense FFN). */
    public ModelConfig moe(Moe moe) {
        return new ModelConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta, ropeDim, scaling, tied, moe);
    }

    /** The same model with {@code layers} layers and a vocabulary of {@code vocab} tokens. */
    public ModelConfig resized(int layers, int vocab) {
        return new ModelConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta, ropeDim, scaling, tied, moe);
    }

    /** Experts stacked in each FFN tensor: 1 for a dense FFN. */
    public int experts() {
        return moe == null ? 1 : moe.experts;
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /**
     * The same model with fewer heads, FFN rows and vocabulary rows: one node's share of a split model (a shared
     * expert's rows in the same proportion as the experts', see {@link #sharedRows}).
     */
    public ModelConfig slice(int heads, int kvHeads, int hidden, int vocab) {
        Moe m = moe == null || moe.shared == 0 ? moe : new Moe(moe.experts, moe.used, moe.normalized, sharedRows(hidden));
        return new ModelConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta, ropeDim, scaling, tied, m);
    }

    /**
     * The shared expert's rows that go with {@code hiddenRows} of each expert's: the same share of its width. A split
     * needs the shared width to be a whole multiple of the experts' (Qwen2 MoE's are 4x and 8x), see cluster.SplitPlan.
     */
    public int sharedRows(int hiddenRows) {
        return (int) ((long) moe.shared * hiddenRows / hidden);
    }

    /** The width of the shared expert, 0 without one. */
    public int shared() {
        return moe == null ? 0 : moe.shared;
    }

    public ModelConfig tied(boolean tied) {
        return new ModelConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, contextLength, eps, ropeTheta, ropeDim, scaling, tied, moe);
    }

    /** The tensors of this model in the order Herd writes them. */
    public List<ModelTensor.Spec> tensors() {
        return ModelTensor.specs(this, t -> t.in(this), Comparator.naturalOrder());
    }

    /**
     * The rope_freqs.weight divisors, computed as llama.cpp's convert_hf_to_gguf.py does for rope_type llama3:
     * 1 for high frequencies, factor for low ones, and a smooth blend in between.
     */
    public float[] ropeFreqs() {
        float[] f = new float[ropeDim / 2];
        double lowWavelen = scaling.originalContext / scaling.lowFreqFactor;
        double highWavelen = scaling.originalContext / scaling.highFreqFactor;
        for (int i = 0; i < f.length; i++) {
            float freq = 1f / (float) Math.pow(ropeTheta, (float) (2 * i) / ropeDim);
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
