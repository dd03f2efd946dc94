package dev.herd.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.HerdException;
import dev.herd.format.FileText;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.format.Limits;
import dev.herd.format.GgufConfig;
import dev.herd.format.Quantizer;
import dev.herd.format.Safetensors;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.model.ModelTensor.Kind;
import dev.herd.model.ModelTensor.Spec;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts a Hugging Face model folder (config.json, safetensors, optional generation_config.json) of a
 * model of one of the {@link Arch architectures} to GGUF with llama.cpp's names ({@link ModelTensor} maps them). Tensors stream row by row
 * through mapped windows of the safetensors, so neither the heap nor resident memory ever holds a whole tensor.
 */
public final class HfConverter {
    static long windowBytes = 64 << 20; // tests shrink it to cross many windows
    private HfConverter() {}

    /**
     * Writes {@code out} from the model in {@code dir}; {@code extra} metadata (for example the tokenizer's) is added
     * last and wins over the converter's own entries.
     */
    public static void convert(Path dir, Path out, GgmlType weights, Map<String, Object> extra, Progress progress) {
        convert(dir, out, WeightTypes.of(weights), extra, progress);
    }

    /** As above, each tensor in the type {@code weights} chooses for it. */
    public static void convert(Path dir, Path out, WeightTypes weights, Map<String, Object> extra, Progress progress) {
        ModelConfig cfg = config(dir);
        Safetensors st = Safetensors.open(dir);
        ModelConfig model = !cfg.tied() && !st.has(ModelTensor.OUTPUT.hf) ? cfg.tied(true) : cfg; // some configs omit tie_word_embeddings
        List<Spec> specs = model.tensors();
        check(st, specs, s -> weights.typeOf(s, model));
        GgufWriter w = new GgufWriter();
        GgufConfig.metadata(model).forEach(w::put);
        w.put("general.name", dir.toAbsolutePath().normalize().getFileName().toString());
        w.put("general.file_type", weights.fileType());
        tokenIds(dir).forEach(w::put);
        extra.forEach(w::put);
        Progress.Tracker tracker = progress.tracker(specs.size(), specs.stream().mapToLong(s -> weights.typeOf(s, model).bytes(s.elements())).sum());
        for (Spec s : specs) {
            GgmlType type = weights.typeOf(s, model);
            GgufWriter.TensorSource source = s.kind() == Kind.ROPE
                    ? o -> {
                        Quantizer.write(GgmlType.F32, model.ropeFreqs(), 0, s.cols(), o);
                        tracker.add(4L * s.cols());
                    }
                    : o -> {
                        float plus = model.arch().hfNormPlusOne && s.kind() == Kind.NORM ? 1 : 0; // Gemma's norms: 1 + w
                        for (int e = 0; e < s.experts(); e++) copyRows(entry(st, s, e), s, type, permuteHeads(model, s), plus, o, tracker);
                    };
            w.tensor(s.name(), type, s.dims(), o -> {
                source.write(o);
                tracker.tensorDone();
            });
        }
        try {
            w.write(out);
        } catch (IOException e) {
            throw new HerdException(out + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    /** The header {@link #convert} writes for a model of this shape, without reading any weights (for planning). */
    public static GgufFile header(ModelConfig cfg, WeightTypes weights, Path name) {
        Map<String, Object> meta = new LinkedHashMap<>(GgufConfig.metadata(cfg));
        meta.put("general.file_type", weights.fileType());
        return GgufFile.described(name, meta, cfg.tensors(), s -> weights.typeOf(s, cfg));
    }

    /** Reads a Hugging Face config.json, given as the file or its model folder. */
    public static ModelConfig config(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("config.json") : dirOrFile;
        if (!Files.exists(file)) throw new HerdException(dirOrFile + ": no config.json (is this a Hugging Face model folder?)");
        JsonNode c = readJson(file);
        String archName = c.path("architectures").path(0).asText(c.path("model_type").asText("?"));
        Arch arch = Arch.ofHf(archName);
        if (arch == null) throw new HerdException(file + ": architecture " + FileText.quote(archName) + " is not supported (supported: " + Arch.supported() + ")");
        // Gemma's configs say "gelu" in hidden_act, which transformers runs as its tanh approximation, as llama.cpp does
        String expected = arch.gelu ? "gelu_pytorch_tanh" : "silu";
        String actKey = c.has("hidden_activation") ? "hidden_activation" : "hidden_act", act = c.path(actKey).asText(expected);
        if (!act.equals(expected) && !(arch.gelu && act.equals("gelu"))) {
            throw new HerdException(file + ": " + actKey + " " + FileText.quote(act) + " is not supported (" + arch.hf.getFirst() + ": " + expected + ")");
        }
        int dim = integer(c, file, "hidden_size", null, Limits.MAX_WIDTH), heads = integer(c, file, "num_attention_heads", null, Limits.MAX_WIDTH);
        int kvHeads = integer(c, file, "num_key_value_heads", heads, Limits.MAX_WIDTH);
        if (heads % kvHeads != 0) throw new HerdException(file + ": num_key_value_heads " + kvHeads + " does not divide num_attention_heads " + heads);
        int headDim = integer(c, file, "head_dim", Math.max(dim / heads, 1), Limits.MAX_WIDTH);
        if (!Limits.headsFit(heads, headDim)) throw new HerdException(file + ": " + heads + " heads of " + headDim + " values are over the width limit of " + Limits.MAX_WIDTH);
        ModelConfig.Moe moe = moe(c, file, arch);
        int layers = integer(c, file, "num_hidden_layers", null, Limits.MAX_LAYERS);
        return new ModelConfig(arch, dim, integer(c, file, arch.moe ? "moe_intermediate_size" : "intermediate_size", null, Limits.MAX_WIDTH),
                layers, heads, kvHeads, headDim,
                integer(c, file, "vocab_size", null, Limits.MAX_VOCAB), integer(c, file, "max_position_embeddings", 4096, Integer.MAX_VALUE),
                (float) positive(c, file, "rms_norm_eps", 1e-5), (float) positive(c, file, "rope_theta", 10000), headDim,
                scaling(c.path("rope_scaling"), file), c.path("tie_word_embeddings").asBoolean(arch == Arch.GEMMA), moe); // GemmaConfig's default: tied (llama.cpp's gemma has no output matrix)
    }

    /**
     * The mixture of experts of a config.json: Mixtral's num_local_experts (weights renormalized over the chosen), or
     * Qwen3 MoE's and Qwen2 MoE's num_experts with norm_topk_prob (false unless set, as transformers reads it), and Qwen2
     * MoE's shared_expert_intermediate_size; every layer sparse.
     */
    private static ModelConfig.Moe moe(JsonNode c, Path file, Arch arch) {
        String count = arch.moe ? "num_experts" : "num_local_experts";
        if (!arch.moe && !c.has(count)) return null;
        int experts = integer(c, file, count, null, ModelConfig.MAX_EXPERTS), used = integer(c, file, "num_experts_per_tok", null, ModelConfig.MAX_EXPERTS);
        String why = ModelConfig.Moe.invalidReason(experts, used);
        if (why != null) throw new HerdException(file + ": " + why);
        if (arch.moe && (integer(c, file, "decoder_sparse_step", 1, Limits.MAX_LAYERS) != 1 || !c.path("mlp_only_layers").isEmpty())) {
            throw new HerdException(file + ": decoder_sparse_step and mlp_only_layers give some layers a dense FFN, which Herd does not run (every layer a mixture)");
        }
        int shared = arch == Arch.QWEN2MOE ? integer(c, file, "shared_expert_intermediate_size", null, Limits.MAX_WIDTH) : 0;
        return new ModelConfig.Moe(experts, used, !arch.moe || c.path("norm_topk_prob").asBoolean(false), shared);
    }

    private static ModelConfig.RopeScaling scaling(JsonNode s, Path file) {
        if (s.isMissingNode() || s.isNull()) return null;
        String type = s.path("rope_type").asText(s.path("type").asText("?"));
        if (type.equals("default")) return null;
        if (!type.equals("llama3")) throw new HerdException(file + ": rope_scaling type " + FileText.quote(type) + " is not supported (only llama3)");
        float low = (float) positive(s, file, "low_freq_factor", 1), high = (float) positive(s, file, "high_freq_factor", 4);
        if (!(high > low)) throw new HerdException(file + ": rope_scaling high_freq_factor " + high + " must exceed low_freq_factor " + low);
        return new ModelConfig.RopeScaling((float) positive(s, file, "factor", 8), low, high,
                integer(s, file, "original_max_position_embeddings", 8192, Integer.MAX_VALUE));
    }

    /** bos/eos ids: generation_config.json wins over config.json; a list of eos ids is kept whole as well. */
    private static Map<String, Object> tokenIds(Path dir) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String name : List.of("config.json", "generation_config.json")) {
            Path file = dir.resolve(name);
            if (!Files.exists(file)) continue;
            JsonNode c = readJson(file);
            if (c.path("bos_token_id").isNumber()) m.put("tokenizer.ggml.bos_token_id", tokenId(c.get("bos_token_id"), file));
            JsonNode eos = c.path("eos_token_id");
            if (eos.isNumber()) {
                m.put("tokenizer.ggml.eos_token_id", tokenId(eos, file));
                m.remove("tokenizer.ggml.eos_token_ids");
            } else if (eos.isArray() && !eos.isEmpty()) {
                int[] ids = eos.valueStream().mapToInt(id -> tokenId(id, file)).toArray();
                m.put("tokenizer.ggml.eos_token_id", ids[0]);
                m.put("tokenizer.ggml.eos_token_ids", ids);
            }
        }
        return m;
    }

    /** The safetensors entry of a tensor (of expert {@code expert} when the experts are stacked): the first of its names there. */
    private static Safetensors.Entry entry(Safetensors st, Spec s, int expert) {
        List<String> names = s.hfNames(expert);
        return st.get(names.stream().filter(st::has).findFirst().orElse(names.getFirst()));
    }

    private static void check(Safetensors st, List<Spec> specs, java.util.function.Function<Spec, GgmlType> types) {
        for (Spec s : specs) {
            if (s.kind() == Kind.ROPE) continue;
            for (int expert = 0; expert < s.experts(); expert++) {
                Safetensors.Entry e = entry(st, s, expert);
                Safetensors.floatType(e);
                long[] want = s.tensor().vector() ? new long[]{s.cols()} : new long[]{s.rows(), s.cols()};
                if (!Arrays.equals(e.shape(), want)) {
                    throw new HerdException(e.file() + ": tensor '" + e.name() + "' has shape " + Arrays.toString(e.shape())
                            + ", but config.json implies " + Arrays.toString(want));
                }
            }
            GgmlType type = types.apply(s);
            if (s.cols() % type.blockSize != 0) {
                throw new HerdException(st.path() + ": tensor '" + entry(st, s, 0).name() + "' has rows of " + s.cols() + " values, not a multiple of "
                        + type.blockSize + " as " + type + " needs; choose f16, bf16 or f32");
            }
        }
    }

    /**
     * Q/K rows of an interleaved-rope model go from HF's rotate-half order to interleaved pairs (llama.cpp's and
     * distributed-llama's permute): the heads of a Q or K matrix, else 0. (No such model has Q/K biases to permute.)
     */
    private static int permuteHeads(ModelConfig cfg, Spec s) {
        if (cfg.arch().neox) return 0;
        return switch (s.tensor()) {
            case ATTN_Q -> cfg.heads();
            case ATTN_K -> cfg.kvHeads();
            default -> 0;
        };
    }

    /** Source row of output row {@code r} under permute(w, heads): reshape(heads, 2, half, cols).swapaxes(1, 2). */
    static int permutedRow(int r, int rows, int heads) {
        int headRows = rows / heads, half = headRows / 2, w = r % headRows;
        return r - w + (w % 2) * half + w / 2;
    }

    /**
     * Streams rows through mapped windows of about 64 MiB, unmapped as soon as they are done, so resident memory
     * stays near one window. Windows hold whole heads because the permutation moves rows only within a head. {@code
     * plus} is added to every value (1 for the norms of a checkpoint that stores them as w for 1 + w).
     */
    private static void copyRows(Safetensors.Entry e, Spec s, GgmlType type, int heads, float plus, OutputStream out,
                                 Progress.Tracker tracker) throws IOException {
        int cols = s.cols(), rows = s.rows();
        long srcRowBytes = e.bytes() / rows;
        int unit = heads > 0 ? rows / heads : 1;
        int window = (int) Math.max(unit, windowBytes / srcRowBytes / unit * unit);
        float[] row = new float[cols];
        byte[] bytes = new byte[(int) type.bytes(cols)];
        for (int first = 0; first < rows; first += window) {
            int n = Math.min(window, rows - first);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment data = Safetensors.map(e, first * srcRowBytes, n * srcRowBytes, arena);
                for (int r = 0; r < n; r++) {
                    int src = heads > 0 ? permutedRow(first + r, rows, heads) - first : r;
                    Safetensors.read(e, data, (long) src * cols, row, 0, cols);
                    if (plus != 0) for (int i = 0; i < cols; i++) row[i] += plus;
                    Quantizer.encode(type, row, 0, cols, bytes, 0);
                    out.write(bytes);
                    tracker.add(bytes.length);
                }
            }
        }
    }

    /** llama.cpp's general.file_type (LLAMA_FTYPE_*) for a weight type. */
    static int fileType(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException(t.name());
        };
    }

    /**
     * A whole number from 1 to {@code max} ("2.0" is taken as 2; 1.5, 2^64 or a string are refused, not truncated);
     * {@code fallback} when the key is absent, or null if it is required.
     */
    private static int integer(JsonNode c, Path file, String key, Integer fallback, int max) {
        JsonNode v = c.path(key);
        if (v.isMissingNode() || v.isNull()) {
            if (fallback == null) throw new HerdException(file + ": '" + key + "' is missing");
            return fallback;
        }
        if (!v.isNumber() || !v.canConvertToExactIntegral() || !v.canConvertToLong() || v.asLong() < 1 || v.asLong() > max) {
            throw new HerdException(file + ": '" + key + "' is " + FileText.quote(v.toString()) + ", not a whole number from 1 to " + max);
        }
        return (int) v.asLong();
    }

    private static int tokenId(JsonNode v, Path file) {
        if (!v.canConvertToExactIntegral() || !v.canConvertToInt() || v.asInt() < 0 || v.asInt() >= Limits.MAX_VOCAB) {
            throw new HerdException(file + ": token id " + FileText.quote(v.toString()) + " is not a whole number from 0 to " + (Limits.MAX_VOCAB - 1));
        }
        return v.asInt();
    }

    /** A finite positive number, or {@code fallback} when the key is absent. */
    private static double positive(JsonNode c, Path file, String key, double fallback) {
        JsonNode v = c.path(key);
        if (v.isMissingNode() || v.isNull()) return fallback;
        float f = (float) v.asDouble();
        if (!v.isNumber() || !(f > 0) || Float.isInfinite(f)) throw new HerdException(file + ": '" + key + "' is " + FileText.quote(v.toString()) + ", not a positive number");
        return v.asDouble();
    }

    private static JsonNode readJson(Path file) {
        return Safetensors.json(file);
    }
}
