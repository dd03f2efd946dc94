package dev.herd.model;

import dev.herd.tensor.GgmlType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.herd.model.ModelTensor.Axis.*;
import static dev.herd.model.ModelTensor.Cut.*;
import static dev.herd.model.ModelTensor.Kind.*;

/**
 * The table of a model's tensors, described once: the weights, the split plan, the weight streaming, the GGUF / .m /
 * Hugging Face names and the converters all derive from it. Per row: the GGUF name (per layer: after "blk.N."), the
 * Hugging Face name (per layer: after "model.layers.N."), the kind, the shape as rows x cols of the config (a vector
 * is one row), how the split cuts it and along which of a node's ranges, which models have it, whether a file may
 * lack it, and its place in a distributed-llama .m layer (-1: not in .m files). Rows are in the order Herd writes
 * GGUF files; a vector cut by ROWS follows the rows of its matrix (a bias: a node adds the values of its rows).
 *
 * <p>A mixture of experts stacks its experts in one tensor, as GGUF does: experts x rows x cols (GGUF dims {cols,
 * rows, experts}), marked {@code EXPERTS} below; the split cuts every expert as the dense FFN's row is cut, so each
 * node holds its slice of every expert. Its Hugging Face names hold the expert number (%d), and a name may have
 * alternatives ("a|b": Qwen3 MoE's, Mixtral's).
 */
public enum ModelTensor {
    // per layer, GGUF name, Hugging Face name, kind, rows, cols, cut, axis, which models have it, optional, .m order
    TOKEN_EMBD(false, "token_embd.weight", "model.embed_tokens.weight", EMBEDDING, ModelConfig::vocab, ModelConfig::dim, ROOT, ALL, c -> true, false, 0),
    ROPE_FREQS(false, "rope_freqs.weight", null, ROPE, c -> 1, c -> c.ropeDim() / 2, WHOLE, ALL, c -> c.scaling() != null, true, -1),

    ATTN_NORM(true, "attn_norm.weight", "input_layernorm.weight", NORM, c -> 1, ModelConfig::dim, WHOLE, ALL, c -> true, false, 10),
    ATTN_Q(true, "attn_q.weight", "self_attn.q_proj.weight", MATRIX, ModelConfig::qDim, ModelConfig::dim, ROWS, HEADS, c -> true, false, 0),
    ATTN_Q_BIAS(true, "attn_q.bias", "self_attn.q_proj.bias", BIAS, c -> 1, ModelConfig::qDim, ROWS, HEADS, c -> c.arch().qkvBias, false, -1),
    ATTN_K(true, "attn_k.weight", "self_attn.k_proj.weight", MATRIX, ModelConfig::kvDim, ModelConfig::dim, ROWS, KV_HEADS, c -> true, false, 1),
    ATTN_K_BIAS(true, "attn_k.bias", "self_attn.k_proj.bias", BIAS, c -> 1, ModelConfig::kvDim, ROWS, KV_HEADS, c -> c.arch().qkvBias, false, -1),
    ATTN_V(true, "attn_v.weight", "self_attn.v_proj.weight", MATRIX, ModelConfig::kvDim, ModelConfig::dim, ROWS, KV_HEADS, c -> true, false, 2),
    ATTN_V_BIAS(true, "attn_v.bias", "self_attn.v_proj.bias", BIAS, c -> 1, ModelConfig::kvDim, ROWS, KV_HEADS, c -> c.arch().qkvBias, false, -1),
    ATTN_OUTPUT(true, "attn_output.weight", "self_attn.o_proj.weight", MATRIX, ModelConfig::dim, ModelConfig::qDim, COLUMNS, HEADS, c -> true, false, 3),
    ATTN_Q_NORM(true, "attn_q_norm.weight", "self_attn.q_norm.weight", NORM, c -> 1, ModelConfig::headDim, WHOLE, ALL, c -> c.arch().qkNorm, false, 8),
    ATTN_K_NORM(true, "attn_k_norm.weight", "self_attn.k_norm.weight", NORM, c -> 1, ModelConfig::headDim, WHOLE, ALL, c -> c.arch().qkNorm, false, 9),
    FFN_NORM(true, "ffn_norm.weight", "post_attention_layernorm.weight", NORM, c -> 1, ModelConfig::dim, WHOLE, ALL, c -> true, false, 11),
    FFN_GATE(true, "ffn_gate.weight", "mlp.gate_proj.weight", MATRIX, ModelConfig::hidden, ModelConfig::dim, ROWS, FFN, c -> c.moe() == null, false, 4),
    FFN_UP(true, "ffn_up.weight", "mlp.up_proj.weight", MATRIX, ModelConfig::hidden, ModelConfig::dim, ROWS, FFN, c -> c.moe() == null, false, 6),
    FFN_DOWN(true, "ffn_down.weight", "mlp.down_proj.weight", MATRIX, ModelConfig::dim, ModelConfig::hidden, COLUMNS, FFN, c -> c.moe() == null, false, 5),
    // A mixture of experts instead: the router (F32, as llama.cpp keeps it, on every node), then the stacked experts.
    FFN_GATE_INP(true, "ffn_gate_inp.weight", "mlp.gate.weight|block_sparse_moe.gate.weight", ROUTER, c -> c.moe().experts(), ModelConfig::dim, WHOLE, ALL, c -> c.moe() != null, false, 4),
    FFN_GATE_EXPS(Stacked.EXPERTS, "ffn_gate_exps.weight", "mlp.experts.%d.gate_proj.weight|block_sparse_moe.experts.%d.w1.weight", ModelConfig::hidden, ModelConfig::dim, ROWS, 5),
    FFN_UP_EXPS(Stacked.EXPERTS, "ffn_up_exps.weight", "mlp.experts.%d.up_proj.weight|block_sparse_moe.experts.%d.w3.weight", ModelConfig::hidden, ModelConfig::dim, ROWS, 7),
    FFN_DOWN_EXPS(Stacked.EXPERTS, "ffn_down_exps.weight", "mlp.experts.%d.down_proj.weight|block_sparse_moe.experts.%d.w2.weight", ModelConfig::dim, ModelConfig::hidden, COLUMNS, 6),
    // A shared expert beside them (Qwen2 MoE): its sigmoid gate (one row, F32 as the router), then a SwiGLU of its own width.
    FFN_GATE_INP_SHEXP(true, "ffn_gate_inp_shexp.weight", "mlp.shared_expert_gate.weight", ROUTER, c -> 1, ModelConfig::dim, WHOLE, ALL, c -> c.shared() > 0, false, -1),
    FFN_GATE_SHEXP(true, "ffn_gate_shexp.weight", "mlp.shared_expert.gate_proj.weight", MATRIX, ModelConfig::shared, ModelConfig::dim, ROWS, SHARED, c -> c.shared() > 0, false, -1),
    FFN_UP_SHEXP(true, "ffn_up_shexp.weight", "mlp.shared_expert.up_proj.weight", MATRIX, ModelConfig::shared, ModelConfig::dim, ROWS, SHARED, c -> c.shared() > 0, false, -1),
    FFN_DOWN_SHEXP(true, "ffn_down_shexp.weight", "mlp.shared_expert.down_proj.weight", MATRIX, ModelConfig::dim, ModelConfig::shared, COLUMNS, SHARED, c -> c.shared() > 0, false, -1),

    OUTPUT_NORM(false, "output_norm.weight", "model.norm.weight", NORM, c -> 1, ModelConfig::dim, WHOLE, ALL, c -> true, false, 0),
    OUTPUT(false, "output.weight", "lm_head.weight", MATRIX, ModelConfig::vocab, ModelConfig::dim, ROWS, VOCAB, c -> !c.tied(), true, 1);

    /** EMBEDDING and MATRIX take the file's weight type; ROUTER matrices and the vectors (NORM, BIAS, ROPE: computed factors) are F32. */
    public enum Kind { EMBEDDING, MATRIX, ROUTER, NORM, BIAS, ROPE }

    /** Marks the rows of a mixture's stacked experts: per layer, matrices along the FFN axis, in MoE models (a .m file interleaves them per expert). */
    private enum Stacked { EXPERTS }

    /** How the split cuts a tensor: by output rows, by input columns, every node whole, or the root alone. */
    public enum Cut { ROWS, COLUMNS, WHOLE, ROOT }

    /**
     * Which of a node's ranges a cut follows (see cluster.SplitPlan.Slice): its query heads, KV heads, FFN rows (of each
     * expert), the shared expert's rows (the same share of its width), vocabulary.
     */
    public enum Axis { HEADS, KV_HEADS, FFN, SHARED, VOCAB, ALL }

    public final boolean perLayer;
    public final String gguf, hf;
    public final Kind kind;
    public final Cut cut;
    public final Axis axis;
    /** The .m file's order within a layer, or among the tensors around the layers. */
    public final int dllama;
    /** A file may lack it: rope_freqs (computed from metadata instead), output (tied to the embedding). */
    public final boolean optional;
    /** A mixture's experts stacked in one tensor (experts x rows x cols). */
    public final boolean stacked;
    private final ToIntFunction<ModelConfig> rows, cols;
    private final Predicate<ModelConfig> in;

    ModelTensor(Stacked experts, String gguf, String hf, ToIntFunction<ModelConfig> rows, ToIntFunction<ModelConfig> cols, Cut cut, int dllama) {
        this(true, gguf, hf, MATRIX, rows, cols, cut, FFN, c -> c.moe() != null, false, dllama, true);
    }

    ModelTensor(boolean perLayer, String gguf, String hf, Kind kind, ToIntFunction<ModelConfig> rows, ToIntFunction<ModelConfig> cols,
                Cut cut, Axis axis, Predicate<ModelConfig> in, boolean optional, int dllama) {
        this(perLayer, gguf, hf, kind, rows, cols, cut, axis, in, optional, dllama, false);
    }

    ModelTensor(boolean perLayer, String gguf, String hf, Kind kind, ToIntFunction<ModelConfig> rows, ToIntFunction<ModelConfig> cols,
                Cut cut, Axis axis, Predicate<ModelConfig> in, boolean optional, int dllama, boolean stacked) {
        this.stacked = stacked;
        this.perLayer = perLayer;
        this.gguf = gguf;
        this.hf = hf;
        this.kind = kind;
        this.rows = rows;
        this.cols = cols;
        this.cut = cut;
        this.axis = axis;
        this.in = in;
        this.optional = optional;
        this.dllama = dllama;
    }

    public int rows(ModelConfig c) {
        return rows.applyAsInt(c);
    }

    public int cols(ModelConfig c) {
        return cols.applyAsInt(c);
    }

    /** Matrices stacked in the tensor: the experts of a stacked row, else 1. */
    public int experts(ModelConfig c) {
        return stacked ? c.experts() : 1;
    }

    /** Whether a model of config {@code c} has this tensor (as Herd writes it: a tied output has none). */
    public boolean in(ModelConfig c) {
        return in.test(c);
    }

    public boolean vector() {
        return kind == NORM || kind == BIAS || kind == ROPE;
    }

    /** The GGUF name in layer {@code layer} (ignored for a tensor of the whole model). */
    public String name(int layer) {
        return perLayer ? "blk." + layer + "." + gguf : gguf;
    }

    /**
     * The Hugging Face safetensors names (alternatives, the first preferred) in layer {@code layer}, of expert
     * {@code expert} for stacked experts; empty for a computed tensor.
     */
    public List<String> hfNames(int layer, int expert) {
        if (hf == null) return List.of();
        return Arrays.stream(hf.split("\\|")).map(n -> (perLayer ? "model.layers." + layer + "." : "") + (stacked ? n.formatted(expert) : n)).toList();
    }

    /** The FFN's column-split matrices, whose block sizes decide how the split may cut the FFN: dense, or experts (and a shared one). */
    public static List<ModelTensor> ffnDowns(ModelConfig c) {
        if (c.moe() == null) return List.of(FFN_DOWN);
        return c.shared() > 0 ? List.of(FFN_DOWN_EXPS, FFN_DOWN_SHEXP) : List.of(FFN_DOWN_EXPS);
    }

    /**
     * An expert's own tensor in llama.cpp's layout of a mixture before April 2024: {@code blk.N.ffn_gate.E.weight} for
     * expert E of what is now the stacked {@code blk.N.ffn_gate_exps.weight} (also up and down).
     */
    public record ExpertTensor(String stacked, int expert) {
        private static final Pattern NAME = Pattern.compile("(blk\\.\\d+\\.ffn_(?:gate|up|down))\\.(\\d+)\\.weight");
        private static final String STACKED = "_exps.weight";

        /** Expert {@code e}'s own tensor name for the stacked tensor {@code stacked}, or null if that name stacks no experts. */
        public static String name(String stacked, int e) {
            return stacked.endsWith(STACKED) ? stacked.substring(0, stacked.length() - STACKED.length()) + "." + e + ".weight" : null;
        }

        /** What {@code name} is in the old layout, or null for any other tensor. */
        public static ExpertTensor of(String name) {
            Matcher m = NAME.matcher(name);
            return m.matches() ? new ExpertTensor(m.group(1) + STACKED, Integer.parseInt(m.group(2))) : null;
        }
    }

    public static List<ModelTensor> layerTensors() {
        return Arrays.stream(values()).filter(t -> t.perLayer).toList();
    }

    /**
     * One tensor of a model: {@code layer} is -1 for a tensor of the whole model. Shapes are rows x cols (a vector has
     * one row); GGUF dims are {cols, rows}, or {cols} for a vector.
     */
    public record Spec(String name, ModelTensor tensor, int layer, int rows, int cols, int experts) {
        public Kind kind() {
            return tensor.kind;
        }

        /** GGUF dims: {cols}, {cols, rows}, or {cols, rows, experts} for stacked experts. */
        public long[] dims() {
            if (tensor.vector()) return new long[]{cols};
            return tensor.stacked ? new long[]{cols, rows, experts} : new long[]{cols, rows};
        }

        public long elements() {
            return (long) experts * rows * cols;
        }

        /** Rows of all the stacked matrices together. */
        public int allRows() {
            return experts * rows;
        }

        /** Vectors and routers stay F32; matrices and the embedding take the chosen weight type. */
        public GgmlType type(GgmlType weights) {
            return tensor.vector() || tensor.kind == ROUTER ? GgmlType.F32 : weights;
        }

        /** The Hugging Face names of (stacked: expert {@code expert}'s) matrix, alternatives first preferred. */
        public List<String> hfNames(int expert) {
            return tensor.hfNames(layer, expert);
        }
    }

    /**
     * The tensors of a model of config {@code c} that {@code include} takes: those of the whole model listed before the
     * layer rows, then each layer's in {@code layerOrder}, then the rest.
     */
    public static List<Spec> specs(ModelConfig c, Predicate<ModelTensor> include, Comparator<ModelTensor> layerOrder) {
        List<Spec> all = new ArrayList<>();
        int firstLayerRow = layerTensors().getFirst().ordinal();
        List<ModelTensor> layer = layerTensors().stream().filter(include).sorted(layerOrder).toList();
        for (ModelTensor t : values()) if (!t.perLayer && t.ordinal() < firstLayerRow && include.test(t)) all.add(t.spec(c, -1));
        for (int l = 0; l < c.layers(); l++) for (ModelTensor t : layer) all.add(t.spec(c, l));
        for (ModelTensor t : values()) if (!t.perLayer && t.ordinal() > firstLayerRow && include.test(t)) all.add(t.spec(c, -1));
        return all;
    }

    private Spec spec(ModelConfig c, int layer) {
        return new Spec(name(layer), this, layer, rows(c), cols(c), experts(c));
    }
}
