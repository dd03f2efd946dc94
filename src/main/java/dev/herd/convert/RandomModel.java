package dev.herd.convert;

import dev.herd.HerdException;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufWriter;
import dev.herd.format.Limits;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelConfig.RopeScaling;
import dev.herd.model.ModelTensor.Spec;
import dev.herd.format.Quantizer;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random-weight GGUF models of real shapes, for benchmarks and tests: the work per token is that of the real model,
 * the text is garbage. Weights and biases are small (about ±0.03) and norms 1, so activations stay finite. Written row by row.
 */
public final class RandomModel {
    private static final RopeScaling LLAMA31 = new RopeScaling(8, 1, 4, 8192);
    private static final Map<String, ModelConfig> SHAPES = new LinkedHashMap<>();
    static {
        SHAPES.put("tiny", new ModelConfig(Arch.LLAMA, 256, 512, 2, 8, 4, 32, 128256, 1024, 1e-5f, 500000, null, true));
        SHAPES.put("llama3.2-1b", new ModelConfig(Arch.LLAMA, 2048, 8192, 16, 32, 8, 64, 128256, 131072, 1e-5f, 500000,
                new RopeScaling(32, 1, 4, 8192), true));
        SHAPES.put("llama3.1-8b", new ModelConfig(Arch.LLAMA, 4096, 14336, 32, 32, 8, 128, 128256, 131072, 1e-5f, 500000, LLAMA31, false));
        SHAPES.put("llama3.1-70b", new ModelConfig(Arch.LLAMA, 8192, 28672, 80, 64, 8, 128, 128256, 131072, 1e-5f, 500000, LLAMA31, false));
        SHAPES.put("llama3.1-405b", new ModelConfig(Arch.LLAMA, 16384, 53248, 126, 128, 8, 128, 128256, 131072, 1e-5f, 500000, LLAMA31, false));
        SHAPES.put("qwen3-8b", new ModelConfig(Arch.QWEN3, 4096, 12288, 36, 32, 8, 128, 151936, 40960, 1e-6f, 1000000, null, false));
        SHAPES.put("gemma-7b", new ModelConfig(Arch.GEMMA, 3072, 24576, 28, 16, 16, 256, 256000, 8192, 1e-6f, 10000, null, true));
        // mixtures of experts: hidden is an expert's width
        SHAPES.put("qwen3-30b-a3b", new ModelConfig(Arch.QWEN3MOE, 2048, 768, 48, 32, 4, 128, 151936, 40960, 1e-6f, 1000000, 128, null, false,
                new ModelConfig.Moe(128, 8, true)));
        SHAPES.put("mixtral-8x7b", new ModelConfig(Arch.LLAMA, 4096, 14336, 32, 32, 8, 128, 32000, 32768, 1e-5f, 1000000, 128, null, false,
                new ModelConfig.Moe(8, 2, true)));
        SHAPES.put("qwen1.5-moe-a2.7b", new ModelConfig(Arch.QWEN2MOE, 2048, 1408, 24, 16, 16, 128, 151936, 8192, 1e-6f, 1000000, 128, null, false,
                new ModelConfig.Moe(60, 4, false, 5632)));
    }

    private RandomModel() {}

    /** A named shape: tiny, llama3.2-1b, llama3.1-8b, llama3.1-70b, llama3.1-405b, qwen3-8b, qwen3-30b-a3b, mixtral-8x7b. */
    public static ModelConfig shape(String name) {
        ModelConfig c = SHAPES.get(name);
        if (c == null) throw new HerdException("unknown model shape '" + name + "' (known: " + String.join(", ", SHAPES.keySet()) + ")");
        return c;
    }

    /** A named shape, or the shape in a Hugging Face config.json (the file or its folder) when {@code nameOrConfig} is a path. */
    public static ModelConfig shapeOf(String nameOrConfig) {
        Path p = Path.of(nameOrConfig);
        return SHAPES.containsKey(nameOrConfig) || !Files.exists(p) ? shape(nameOrConfig) : HfConverter.config(p);
    }

    /**
     * The shape with {@code layers} layers (0: as it is), each of the same shape, and the vocabulary of the
     * {@code tokenizer} metadata that will be embedded (if any), so that the file runs as it is.
     */
    public static ModelConfig resized(ModelConfig c, int layers, Map<String, Object> tokenizer) {
        if (layers < 0 || layers > Limits.MAX_LAYERS) throw new HerdException("--layers " + layers + " is outside 1.." + Limits.MAX_LAYERS);
        int vocab = tokenizer.get("tokenizer.ggml.tokens") instanceof String[] tokens ? tokens.length : c.vocab();
        return c.resized(layers == 0 ? c.layers() : layers, vocab);
    }

    /** Writes the model; {@code extra} metadata (a tokenizer, typically) is added last. */
    public static void write(ModelConfig cfg, GgmlType weights, Path out, long seed, Map<String, Object> extra, Progress progress) {
        if (!Arrays.asList(GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.F16, GgmlType.BF16, GgmlType.F32).contains(weights)) {
            throw new HerdException("random models take Q4_0, Q8_0, F16, BF16 or F32 weights, not " + weights);
        }
        var specs = cfg.tensors();
        GgufWriter w = new GgufWriter();
        GgufConfig.metadata(cfg).forEach(w::put);
        w.put("general.name", "random-" + cfg.arch().gguf);
        w.put("general.file_type", HfConverter.fileType(weights));
        extra.forEach(w::put);
        Progress.Tracker tracker = progress.tracker(specs.size(), specs.stream().mapToLong(s -> s.type(weights).bytes(s.elements())).sum());
        for (int i = 0; i < specs.size(); i++) {
            Spec s = specs.get(i);
            GgmlType type = s.type(weights);
            if (s.cols() % type.blockSize != 0) throw new HerdException(s.name() + ": rows of " + s.cols() + " values do not fit " + type + " blocks");
            SplittableRandom rnd = new SplittableRandom(seed * 1_000_003 + i);
            w.tensor(s.name(), type, s.dims(), o -> {
                switch (s.kind()) {
                    case NORM -> fill(s, o, tracker, row -> Arrays.fill(row, 1f));
                    case BIAS -> random(s, GgmlType.F32, rnd, o, tracker);
                    case ROPE -> fill(s, o, tracker, row -> System.arraycopy(cfg.ropeFreqs(), 0, row, 0, row.length));
                    default -> random(s, type, rnd, o, tracker);
                }
                tracker.tensorDone();
            });
        }
        try {
            w.write(out);
        } catch (IOException e) {
            throw new HerdException(out + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    private interface Filler {
        void fill(float[] row);
    }

    private static void fill(Spec s, OutputStream o, Progress.Tracker tracker, Filler filler) throws IOException {
        float[] row = new float[s.cols()];
        filler.fill(row);
        Quantizer.write(GgmlType.F32, row, 0, row.length, o);
        tracker.add(4L * row.length);
    }

    /** Quantized types get random codes under a fixed small scale; float types get uniform values in ±0.03. */
    private static void random(Spec s, GgmlType type, SplittableRandom rnd, OutputStream o, Progress.Tracker tracker) throws IOException {
        byte[] bytes = new byte[(int) type.bytes(s.cols())];
        float[] row = new float[s.cols()];
        for (int r = 0; r < s.allRows(); r++) {
            if (type.quantized()) {
                rnd.nextBytes(bytes);
                short d = Float.floatToFloat16(type == GgmlType.Q4_0 ? 0.004f : 0.0003f);
                for (int b = 0; b < bytes.length; b += type.blockBytes) {
                    bytes[b] = (byte) d;
                    bytes[b + 1] = (byte) (d >> 8);
                }
            } else {
                for (int j = 0; j < row.length; j++) row[j] = (float) (rnd.nextDouble() * 0.06 - 0.03);
                Quantizer.encode(type, row, 0, row.length, bytes, 0);
            }
            o.write(bytes);
            tracker.add(bytes.length);
        }
    }
}
