package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.tensor.GgmlType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A distributed-llama {@code .m} model exposed as a {@link GgufFile} with llama.cpp's names, its tensors pointing
 * into the mapped .m (no copy). Its Q40/Q80/F16 blocks are ggml's Q4_0/Q8_0/F16, and its Llama Q/K rows are
 * already in interleaved rope order, so nothing needs converting.
 */
public final class DllamaModel {
    static final int MAGIC = 0x0A00ABCD;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final String[] KEYS = {"version", "arch_type", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
            "n_experts", "n_active_experts", "vocab_size", "max_seq_len", "hidden_act", "rope_theta", "weights_float_type",
            "rope_scaling_factor", "rope_scaling_low_freq_factor", "rope_scaling_high_freq_factory",
            "rope_scaling_orig_max_seq_len", "rope_type", "head_dim", "norm_epsilon", "moe_hidden_dim"};
    private static final int ROPE_FALCON = 1, ROPE_LLAMA3_1 = 2;

    private DllamaModel() {}

    /** Whether {@code path} names a distributed-llama model: a {@code .m} file, as its tools name them. */
    public static boolean isDllama(Path path) {
        return path.getFileName().toString().endsWith(".m");
    }

    public static GgufFile open(Path path) {
        return open(path, Map.of());
    }

    /** Opens {@code path}; {@code extra} metadata (such as {@link DllamaTokenizerFile#metadata()}) is added last. */
    public static GgufFile open(Path path, Map<String, Object> extra) {
        return Mapped.open(path, (file, size, arena) -> read(path, file, size, arena, extra));
    }

    /** The metadata and tensor directory, mapping only the header: the tensors' data cannot be read from the result. */
    public static GgufFile header(Path path) {
        return Mapped.head(path, (file, size, arena) -> read(path, file, size, arena, Map.of()));
    }

    private static GgufFile read(Path path, MemorySegment file, long size, Arena arena, Map<String, Object> extra) {
        if (size < 8) throw error(path, "file is too short to be a distributed-llama model (" + size + " bytes)");
        int magic = file.get(I32, 0);
        if (magic == 0xABCD00 || magic == 0xABCD01) throw error(path, "old model format is not supported (magic 0x" + Integer.toHexString(magic) + "); convert the model again");
        if (magic != MAGIC) throw error(path, String.format("not a distributed-llama model (magic 0x%08x, expected 0x%08x)", magic, MAGIC));
        int headerSize = file.get(I32, 4);
        if (headerSize < 8 || (headerSize - 8) % 8 != 0 || headerSize > size) {
            throw error(path, "bad header size " + headerSize + " (file has " + size + " bytes)");
        }
        if (headerSize > file.byteSize()) throw new Mapped.WindowTooSmall();
        Map<String, Integer> h = new HashMap<>();
        for (int at = 8; at < headerSize; at += 8) {
            int key = file.get(I32, at);
            if (key < 0 || key >= KEYS.length) throw error(path, "unknown header key " + key);
            h.put(KEYS[key], file.get(I32, at + 4));
        }
        ModelConfig cfg = config(path, h);
        GgmlType wt = switch (need(path, h, "weights_float_type")) {
            case 0 -> GgmlType.F32;
            case 1 -> GgmlType.F16;
            case 2 -> GgmlType.Q4_0;
            case 3 -> GgmlType.Q8_0;
            default -> throw error(path, "unknown weights_float_type " + h.get("weights_float_type"));
        };

        Map<String, GgufFile.TensorInfo> dir = GgufFile.newDirectory();
        long offset = headerSize;
        for (Entry e : order(path, cfg)) {
            GgmlType type = e.kind == ModelTensor.Kind.MATRIX ? wt : GgmlType.F32; // the .m embedding and the router are always F32
            if (e.dims[0] % type.blockSize != 0) throw error(path, e.name + " rows of " + e.dims[0] + " values are not a multiple of the " + type + " block");
            long elements = 1;
            for (long d : e.dims) elements *= d;
            long bytes = type.bytes(elements);
            dir.put(e.name, new GgufFile.TensorInfo(e.name, e.dims, type, type.id, offset, bytes));
            offset += bytes;
        }
        if (offset > size) throw error(path, "file is truncated: missing " + (offset - size) + " bytes");
        if (offset < size) throw error(path, (size - offset) + " bytes more than the header implies: not a model of this shape");

        Map<String, MemorySegment> computed = new HashMap<>();
        if (cfg.scaling() != null) {
            float[] f = cfg.ropeFreqs();
            MemorySegment m = arena.allocate(4L * f.length);
            MemorySegment.copy(f, 0, m, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, f.length);
            dir.put(ModelTensor.ROPE_FREQS.gguf, new GgufFile.TensorInfo(ModelTensor.ROPE_FREQS.gguf, new long[]{f.length}, GgmlType.F32, 0, 0, m.byteSize()));
            computed.put(ModelTensor.ROPE_FREQS.gguf, m);
        }
        Map<String, Object> meta = new LinkedHashMap<>(GgufConfig.metadata(cfg));
        meta.put("general.name", path.getFileName().toString().replaceFirst("\\.m$", ""));
        meta.putAll(extra);
        return new GgufFile(path, 3, meta, dir, file, computed, arena);
    }

    private static ModelConfig config(Path path, Map<String, Integer> h) {
        int type = need(path, h, "arch_type");
        Arch arch = Arch.ofDllama(type);
        if (arch == null) throw error(path, "unknown arch_type 0x" + Integer.toHexString(type));
        int experts = h.getOrDefault("n_experts", 0);
        if (arch.moe != experts > 0) {
            throw error(path, "arch_type 0x" + Integer.toHexString(type) + " (" + arch.gguf + ") with n_experts " + experts
                    + ": in distributed-llama only Qwen3 MoE (0xabcd02) has experts, and it always has");
        }
        ModelConfig.Moe moe = null;
        if (arch.moe) { // distributed-llama renormalizes the chosen experts' weights (normTopk), as Qwen3 MoE does
            int k = h.getOrDefault("n_active_experts", 0);
            String why = ModelConfig.Moe.invalidReason(experts, k);
            if (why != null) throw error(path, "header n_experts = " + experts + ", n_active_experts = " + k + ": " + why);
            moe = new ModelConfig.Moe(experts, k, true);
        }
        int ropeType = arch.neox ? ROPE_FALCON : h.getOrDefault("rope_type", 0);
        if (!arch.neox && ropeType == ROPE_FALCON) throw error(path, "a Llama model with NeoX (falcon) rope is not supported");
        float eps = switch (h.getOrDefault("norm_epsilon", 5)) {
            case 5 -> 1e-5f;
            case 6 -> 1e-6f;
            default -> throw error(path, "unknown norm_epsilon " + h.get("norm_epsilon") + " (5 or 6 expected)");
        };
        int dim = bounded(path, h, "dim", Limits.MAX_WIDTH), heads = bounded(path, h, "n_heads", Limits.MAX_WIDTH);
        int kvHeads = h.containsKey("n_kv_heads") ? bounded(path, h, "n_kv_heads", Limits.MAX_WIDTH) : heads;
        int headDim = h.containsKey("head_dim") ? bounded(path, h, "head_dim", Limits.MAX_WIDTH) : dim / heads;
        if (heads % kvHeads != 0 || headDim == 0) throw error(path, "n_heads " + heads + ", n_kv_heads " + kvHeads + " and dim " + dim + " do not divide");
        if (!Limits.headsFit(heads, headDim)) throw error(path, heads + " heads of " + headDim + " values are over the width limit of " + Limits.MAX_WIDTH);
        float factor = h.getOrDefault("rope_scaling_factor", 1);
        ModelConfig.RopeScaling scaling = null;
        if (ropeType == ROPE_LLAMA3_1 || factor != 1) { // distributed-llama scales whenever factor != 1
            scaling = new ModelConfig.RopeScaling(factor, need(path, h, "rope_scaling_low_freq_factor"),
                    need(path, h, "rope_scaling_high_freq_factory"), need(path, h, "rope_scaling_orig_max_seq_len"));
        }
        // hidden_act is ignored, as distributed-llama does: its graph always uses SiLU.
        // a mixture's FFN width is its experts' (the .m hidden_dim is the dense intermediate size, unused)
        int hidden = bounded(path, h, moe != null ? "moe_hidden_dim" : "hidden_dim", Limits.MAX_WIDTH);
        return new ModelConfig(arch, dim, hidden, bounded(path, h, "n_layers", Limits.MAX_LAYERS), heads, kvHeads, headDim,
                bounded(path, h, "vocab_size", Limits.MAX_VOCAB), bounded(path, h, "max_seq_len", Integer.MAX_VALUE), eps,
                h.getOrDefault("rope_theta", 10000), headDim, scaling, false, moe);
    }

    /** A tensor as the .m file holds it. */
    private record Entry(String name, long[] dims, ModelTensor.Kind kind) {}

    /**
     * Tensors in .m file order (distributed-llama's loadLlmNetWeight: FFN order gate, down, up; norms last). A
     * mixture's experts follow its router one by one, each its gate, down and up: they are named as llama.cpp's old
     * per-expert layout ({@link ModelTensor.ExpertTensor}), which the loader refuses and {@code herd convert} stacks.
     */
    private static List<Entry> order(Path path, ModelConfig c) {
        List<ModelTensor.Spec> specs = ModelTensor.specs(c, t -> t.dllama >= 0 && t.in(c), Comparator.comparingInt(t -> t.dllama));
        // counted before the experts are listed: a header of a few bytes may claim 1024 layers of 1024 experts
        long count = specs.stream().mapToLong(ModelTensor.Spec::experts).sum();
        if (count > Limits.MAX_TENSORS) throw error(path, "the header implies " + count + " tensors, more than " + Limits.MAX_TENSORS);
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            ModelTensor.Spec s = specs.get(i);
            if (!s.tensor().stacked) {
                out.add(new Entry(s.name(), s.dims(), s.kind()));
                continue;
            }
            List<ModelTensor.Spec> kinds = specs.subList(i, i + 3); // gate, down, up of this layer
            for (int e = 0; e < s.experts(); e++) {
                for (ModelTensor.Spec k : kinds) out.add(new Entry(ModelTensor.ExpertTensor.name(k.name(), e), new long[]{k.cols(), k.rows()}, k.kind()));
            }
            i += 2;
        }
        return out;
    }

    private static int need(Path path, Map<String, Integer> h, String key) {
        Integer v = h.get(key);
        if (v == null) throw error(path, "header lacks " + key);
        return v;
    }

    /** A header value from 1 to {@code max}, checked before anything is sized by it. */
    private static int bounded(Path path, Map<String, Integer> h, String key, int max) {
        int v = need(path, h, key);
        if (v < 1 || v > max) throw error(path, "header " + key + " = " + v + " is out of range (1 to " + max + ")");
        return v;
    }

    private static HerdException error(Path path, String message) {
        return new HerdException(path + ": " + message);
    }
}
