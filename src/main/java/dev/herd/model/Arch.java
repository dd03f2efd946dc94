package dev.herd.model;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The architectures Herd runs (the one list): their names in GGUF, in Hugging Face config.json and in a
 * distributed-llama .m header, and the attention components each one turns on. Which tensors each has follows from
 * these ({@link ModelTensor}); adding a dense architecture is a constant here, plus table rows for tensors it alone has.
 * Experts come from the model's metadata ({@link ModelConfig.Moe}): Mixtral is {@code llama} with experts, Qwen3 MoE
 * is Qwen3 with experts (its own GGUF name, which requires them: {@link #moe}), Qwen2 MoE is Qwen2 with experts and a
 * shared expert. Gemma (the first) is Llama with NeoX RoPE, a GeGLU FFN and a scaled embedding.
 *
 * @param neox    RoPE rotates halves (x[i], x[i + ropeDim/2]) instead of interleaved pairs; Hugging Face checkpoints
 *                of the others store Q/K rows in rotate-half order, which the converter permutes to pairs
 * @param qkvBias Q, K and V projections add a bias vector
 * @param qkNorm  per-head RMSNorm of q and k before RoPE
 * @param moe     every model of it has a mixture of experts (others may have one: Mixtral is llama)
 * @param dllama  the .m header's arch_type, or 0 when distributed-llama has none
 * @param gelu    the FFN's gate goes through GELU (tanh approximation: GeGLU) instead of SiLU (SwiGLU)
 * @param scaledEmbedding the token embedding is multiplied by sqrt(dim) before the first layer
 * @param hfNormPlusOne a Hugging Face checkpoint's RMSNorm weights w mean 1 + w (GGUF holds 1 + w, as llama.cpp's converter writes it)
 */
public enum Arch {
    LLAMA("llama", false, false, false, false, 0xABCD00, "LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM"),
    QWEN2("qwen2", true, true, false, false, 0, "Qwen2ForCausalLM"),
    QWEN3("qwen3", true, false, true, false, 0xABCD01, "Qwen3ForCausalLM"),
    QWEN3MOE("qwen3moe", true, false, true, true, 0xABCD02, "Qwen3MoeForCausalLM"),
    QWEN2MOE("qwen2moe", true, true, false, true, 0, "Qwen2MoeForCausalLM"),
    GEMMA("gemma", true, false, false, false, 0, true, true, true, "GemmaForCausalLM");

    public final String gguf;
    public final boolean neox, qkvBias, qkNorm;
    public final int dllama;
    public final List<String> hf;
    public final boolean moe, gelu, scaledEmbedding, hfNormPlusOne;

    Arch(String gguf, boolean neox, boolean qkvBias, boolean qkNorm, boolean moe, int dllama, String... hf) {
        this(gguf, neox, qkvBias, qkNorm, moe, dllama, false, false, false, hf);
    }

    Arch(String gguf, boolean neox, boolean qkvBias, boolean qkNorm, boolean moe, int dllama, boolean gelu, boolean scaledEmbedding,
         boolean hfNormPlusOne, String... hf) {
        this.gelu = gelu;
        this.scaledEmbedding = scaledEmbedding;
        this.hfNormPlusOne = hfNormPlusOne;
        this.gguf = gguf;
        this.neox = neox;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
        this.dllama = dllama;
        this.hf = List.of(hf);
        this.moe = moe;
    }

    /** The architecture named {@code name} in GGUF's general.architecture, or null. */
    public static Arch ofGguf(String name) {
        return Arrays.stream(values()).filter(a -> a.gguf.equals(name)).findFirst().orElse(null);
    }

    /** The architecture of a Hugging Face "architectures" class name, or null. */
    public static Arch ofHf(String name) {
        return Arrays.stream(values()).filter(a -> a.hf.contains(name)).findFirst().orElse(null);
    }

    /** The architecture of a .m arch_type, or null. */
    public static Arch ofDllama(int type) {
        return type == 0 ? null : Arrays.stream(values()).filter(a -> a.dllama == type).findFirst().orElse(null);
    }

    /** The supported architectures for an error message: GGUF names, with Hugging Face's in brackets. */
    public static String supported() {
        return Arrays.stream(values()).map(a -> a.gguf + " (" + String.join(", ", a.hf) + ")").collect(Collectors.joining(", "));
    }
}
