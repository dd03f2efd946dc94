package dev.herd.model;

import dev.herd.HerdException;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.IntStream;

import static dev.herd.model.ModelTensor.OUTPUT;
import static dev.herd.model.ModelTensor.OUTPUT_NORM;
import static dev.herd.model.ModelTensor.ROPE_FREQS;
import static dev.herd.model.ModelTensor.TOKEN_EMBD;

/**
 * The model's tensors as views over the memory-mapped file (nothing is copied), each checked against the shape the
 * config implies ({@link ModelTensor}). Matrices are [out rows x in cols]; vectors one row.
 *
 * @param output    the classifier; the token embedding itself when the file ties them
 * @param ropeFreqs Llama 3.1 per-frequency divisors (ropeDim/2 floats), or null
 */
public record Weights(Tensor tokenEmbd, Layer[] layers, Tensor outputNorm, Tensor output, Tensor ropeFreqs) {

    /**
     * One transformer block: the tensors of {@link ModelTensor#layerTensors()} the model has; {@code experts} in each
     * stacked tensor of a mixture (1 without one), whose rows are the experts' rows one expert after the other.
     */
    public record Layer(Map<ModelTensor, Tensor> tensors, int experts) {
        public Layer {
            tensors = Collections.unmodifiableMap(new EnumMap<>(tensors));
        }

        /** The tensor, or null when this model has none (a bias, a q/k norm). */
        public Tensor get(ModelTensor t) {
            return tensors.get(t);
        }
    }

    /** Every matrix: each layer's, then the output. */
    public List<Tensor> matrices() {
        List<Tensor> all = new ArrayList<>();
        for (Layer l : layers) l.tensors.forEach((t, w) -> { if (t.kind == ModelTensor.Kind.MATRIX) all.add(w); });
        all.add(output);
        return all;
    }

    /** Every tensor by its GGUF name (a tied output is the embedding); the embedding itself if {@code withEmbedding}. */
    public Map<String, Tensor> byName(boolean withEmbedding) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        if (withEmbedding) m.put(TOKEN_EMBD.gguf, tokenEmbd);
        if (ropeFreqs != null) m.put(ROPE_FREQS.gguf, ropeFreqs);
        for (int i = 0; i < layers.length; i++) {
            int l = i;
            layers[i].tensors.forEach((t, w) -> m.put(t.name(l), w));
        }
        m.put(OUTPUT_NORM.gguf, outputNorm);
        m.put(OUTPUT.gguf, output);
        return m;
    }

    /** Transforms a matrix that stacks {@code stacked} matrices of equal rows (1: a plain matrix). */
    public interface MatrixMap {
        Tensor apply(Tensor w, int stacked);
    }

    /**
     * The same weights with every matrix (not the token embedding, routers or vectors) passed through {@code f},
     * layers in parallel (f must be thread-safe; repacking a model at load is worth the cores).
     */
    public Weights withMatrices(MatrixMap f) {
        Layer[] mapped = new Layer[layers.length];
        IntStream.range(0, layers.length).parallel().forEach(i -> {
            Map<ModelTensor, Tensor> m = new EnumMap<>(ModelTensor.class);
            Layer l = layers[i];
            l.tensors.forEach((t, w) -> m.put(t, t.kind == ModelTensor.Kind.MATRIX ? f.apply(w, t.stacked ? l.experts : 1) : w));
            mapped[i] = new Layer(m, l.experts);
        });
        return new Weights(tokenEmbd, mapped, outputNorm, f.apply(output, 1), ropeFreqs);
    }

    /** Tensors looked up by GGUF name; {@code where} names them in errors (a file, or "from the root"). */
    public record Source(Function<String, Tensor> get, Predicate<String> has, String where) {
        public static Source of(Map<String, Tensor> tensors, String where) {
            return new Source(tensors::get, tensors::containsKey, where);
        }
    }

    /** All weights of a whole model. */
    public static Weights from(Source f, ModelConfig c) {
        return from(f, c, c.vocab());
    }

    /**
     * Weights from any source. {@code embeddingRows}: the token embedding's rows (the whole vocabulary, also when c
     * holds a node's slice of it), or 0 for a worker of a split model, which has none (tokenEmbd is null).
     */
    public static Weights from(Source f, ModelConfig c, int embeddingRows) {
        Layer[] layers = new Layer[c.layers()];
        for (int i = 0; i < layers.length; i++) {
            Map<ModelTensor, Tensor> m = new EnumMap<>(ModelTensor.class);
            for (ModelTensor t : ModelTensor.layerTensors()) {
                if (t.in(c) || t.optional && f.has().test(t.name(i))) m.put(t, tensor(f, t, i, c));
            }
            layers[i] = new Layer(m, c.experts());
        }
        Tensor embd = embeddingRows > 0 ? matrix(f, TOKEN_EMBD.gguf, embeddingRows, c.dim()) : null;
        Tensor output = f.has().test(OUTPUT.gguf) || embd == null ? tensor(f, OUTPUT, -1, c) : embd;
        Tensor freqs = f.has().test(ROPE_FREQS.gguf) ? tensor(f, ROPE_FREQS, -1, c) : null;
        return new Weights(embd, layers, tensor(f, OUTPUT_NORM, -1, c), output, freqs);
    }

    private static Tensor tensor(Source f, ModelTensor t, int layer, ModelConfig c) {
        if (t.vector()) return vector(f, t.name(layer), t.cols(c));
        Tensor m = t.stacked ? stacked(f, t.name(layer), t.experts(c), t.rows(c), t.cols(c)) : matrix(f, t.name(layer), t.rows(c), t.cols(c));
        if (t.kind == ModelTensor.Kind.ROUTER && m.type() != GgmlType.F32) {
            throw new HerdException(f.where() + ": tensor '" + t.name(layer) + "' has type " + m.type() + ", expected F32");
        }
        return m;
    }

    private static Tensor matrix(Source f, String name, int rows, int cols) {
        Tensor t = get(f, name);
        if (t.rows() != rows || t.cols() != cols) {
            throw new HerdException(f.where() + ": tensor '" + name + "' has shape [" + t.rows() + " x " + t.cols()
                    + "], expected [" + rows + " x " + cols + "] (rows x cols)");
        }
        return t;
    }

    /** Experts stacked in one tensor: a matrix of experts x rows rows. */
    private static Tensor stacked(Source f, String name, int experts, int rows, int cols) {
        String first = ModelTensor.ExpertTensor.name(name, 0);
        if (!f.has().test(name) && first != null && f.has().test(first)) {
            throw new HerdException(f.where() + ": each expert is a tensor of its own ('" + first + "', ...), as distributed-llama's .m "
                    + "files and llama.cpp's GGUF files before April 2024 hold them; herd convert --model FILE --output NEW.gguf "
                    + "--weights-float-type keep stacks them into a file Herd runs (once)");
        }
        Tensor t = get(f, name);
        if ((long) t.rows() != (long) experts * rows || t.cols() != cols) {
            throw new HerdException(f.where() + ": tensor '" + name + "' has " + t.rows() + " rows of " + t.cols()
                    + " values, expected " + experts + " experts x " + rows + " rows of " + cols + " values");
        }
        return t;
    }

    /** A vector of F32 values (norm weights, biases, rope divisors). */
    private static Tensor vector(Source f, String name, int n) {
        Tensor t = get(f, name);
        if (t.type() != GgmlType.F32) throw new HerdException(f.where() + ": tensor '" + name + "' has type " + t.type() + ", expected F32");
        if (t.size() != n) throw new HerdException(f.where() + ": tensor '" + name + "' has " + t.size() + " elements, expected [" + n + "]");
        return t;
    }

    private static Tensor get(Source f, String name) {
        if (!f.has().test(name)) throw new HerdException(f.where() + ": tensor '" + name + "' is missing");
        return f.get().apply(name);
    }
}
