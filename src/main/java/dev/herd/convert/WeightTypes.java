package dev.herd.convert;

import dev.herd.HerdException;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.tensor.GgmlType;

import static dev.herd.model.ModelTensor.ATTN_V;
import static dev.herd.model.ModelTensor.FFN_DOWN;
import static dev.herd.model.ModelTensor.FFN_DOWN_EXPS;
import static dev.herd.model.ModelTensor.OUTPUT;
import static dev.herd.model.ModelTensor.TOKEN_EMBD;
import static dev.herd.tensor.GgmlType.*;

/**
 * What {@code --weights-float-type} names: the type each matrix is written in, and the file's
 * {@code general.file_type}. {@code q40}, {@code q80}, {@code f16}, {@code bf16} and {@code f32} put every matrix in
 * one type (distributed-llama's names). {@code q6_k} and {@code q4_k_m} are llama.cpp's file types and choose per
 * tensor as llama.cpp's quantizer does without an importance matrix (src/llama-quant.cpp, llama_tensor_get_type and
 * tensor_type_fallback), for the Llama-family tensors Herd writes:
 * <ul>
 * <li>output.weight (token_embd.weight when the output is tied to it): Q8_0 if its rows are not a multiple of 256,
 * else Q6_K;</li>
 * <li>q4_k_m only: attn_v and ffn_down of layer i of n take Q6_K when use_more_bits(i, n): i &lt; n/8, i &gt;= 7n/8 or
 * (i - n/8) % 3 == 2; a Llama 70B (80 layers, grouped-query attention) takes Q5_K for its other attn_v;</li>
 * <li>everything else the base type (Q4_K or Q6_K);</li>
 * <li>rows not a multiple of 256 fall back: Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0; to F16 if still no fit.</li>
 * </ul>
 */
public record WeightTypes(String name, GgmlType base, int fileType, boolean llamaCpp) {
    private static final String NAMES = "q40, q80, q4_k_m, q6_k, f16, bf16 or f32";

    /** The model facts llama.cpp's choice depends on. */
    public record Model(int layers, boolean tiedOutput, boolean llama70b) {
        static Model of(ModelConfig c) {
            return new Model(c.layers(), c.tied(), c.arch() == Arch.LLAMA && c.layers() == 80 && c.kvHeads() != c.heads());
        }
    }

    public static WeightTypes parse(String name) {
        return switch (name.toLowerCase()) {
            case "q40" -> of(Q4_0);
            case "q80" -> of(Q8_0);
            case "f16" -> of(F16);
            case "bf16" -> of(BF16);
            case "f32" -> of(F32);
            case "q6_k" -> new WeightTypes("q6_k", Q6_K, 18, true);
            case "q4_k_m" -> new WeightTypes("q4_k_m", Q4_K, 15, true);
            default -> throw new HerdException("unknown weight float type '" + name + "' (use " + NAMES + ")");
        };
    }

    /** A GGUF's tensors in the types they have (and its file_type): a rewrite that only changes the layout (herd convert's {@code keep}). */
    public static final WeightTypes KEEP = new WeightTypes("keep", null, -1, false);

    /** Every matrix in {@code type} (one of Q4_0, Q8_0, F16, BF16, F32). */
    public static WeightTypes of(GgmlType type) {
        return new WeightTypes(type.name().toLowerCase(), type, HfConverter.fileType(type), false);
    }

    /** The type of a converter's tensor: vectors (norms, biases, rope factors) and routers stay F32. */
    GgmlType typeOf(ModelTensor.Spec s, ModelConfig cfg) {
        return s.tensor().vector() || s.kind() == ModelTensor.Kind.ROUTER ? F32 : typeOf(s.name(), s.cols(), Model.of(cfg));
    }

    /** The type of matrix {@code tensor} whose rows hold {@code cols} values. */
    GgmlType typeOf(String tensor, long cols, Model m) {
        if (!llamaCpp) return base;
        GgmlType t = base;
        if (tensor.equals(OUTPUT.gguf) || m.tiedOutput() && tensor.equals(TOKEN_EMBD.gguf)) {
            t = cols % Q6_K.blockSize != 0 ? Q8_0 : Q6_K;
        } else if (base == Q4_K && (tensor.endsWith("." + ATTN_V.gguf) || tensor.endsWith("." + FFN_DOWN.gguf) || tensor.endsWith("." + FFN_DOWN_EXPS.gguf))) {
            if (moreBits(layer(tensor), m.layers())) t = Q6_K;
            else if (m.llama70b() && tensor.endsWith("." + ATTN_V.gguf)) t = Q5_K;
        }
        return fallback(t, cols);
    }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between. */
    private static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    private static GgmlType fallback(GgmlType t, long cols) {
        if (cols % t.blockSize == 0) return t;
        GgmlType f = switch (t) {
            case Q4_K -> Q5_0;
            case Q5_K -> Q5_1;
            case Q6_K -> Q8_0;
            default -> throw new IllegalArgumentException(t.name());
        };
        return cols % f.blockSize == 0 ? f : F16;
    }

    private static int layer(String tensor) {
        return Integer.parseInt(tensor.substring(4, tensor.indexOf('.', 4))); // blk.N.name.weight
    }
}
