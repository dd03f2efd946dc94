package dev.herd.model;

import dev.herd.HerdException;
import dev.herd.format.GgufFile;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

/**
 * The model's tensors as views over the memory-mapped GGUF file (nothing is copied), each checked against the
 * shape the config implies. Matrices are [out rows x in cols].
 *
 * @param output    the classifier; the token embedding itself when the file ties them
 * @param ropeFreqs Llama 3.1 per-frequency divisors (ropeDim/2 floats), or null
 */
public record Weights(Tensor tokenEmbd, Layer[] layers, Tensor outputNorm, Tensor output, Tensor ropeFreqs) {

    /** One transformer block; qNorm and kNorm are null unless the config asks for q/k norms. */
    public record Layer(Tensor attnNorm, Tensor q, Tensor k, Tensor v, Tensor o, Tensor qNorm, Tensor kNorm,
                        Tensor ffnNorm, Tensor gate, Tensor up, Tensor down) {}

    /** Every matrix: each layer's q, k, v, o, gate, up and down, then the output. */
    public List<Tensor> matrices() {
        List<Tensor> all = new ArrayList<>();
        for (Layer l : layers) all.addAll(List.of(l.q, l.k, l.v, l.o, l.gate, l.up, l.down));
        all.add(output);
        return all;
    }

    /**
     * The same weights with every matrix (not the token embedding, norms or rope divisors) passed through {@code f},
     * layers in parallel (f must be thread-safe; repacking a model at load is worth the cores).
     */
    public Weights withMatrices(UnaryOperator<Tensor> f) {
        Layer[] mapped = new Layer[layers.length];
        IntStream.range(0, layers.length).parallel().forEach(i -> {
            Layer l = layers[i];
            mapped[i] = new Layer(l.attnNorm, f.apply(l.q), f.apply(l.k), f.apply(l.v), f.apply(l.o), l.qNorm, l.kNorm,
                    l.ffnNorm, f.apply(l.gate), f.apply(l.up), f.apply(l.down));
        });
        return new Weights(tokenEmbd, mapped, outputNorm, f.apply(output), ropeFreqs);
    }

    public static Weights from(GgufFile f, LlamaConfig c) {
        return from(new Source(f::tensor, f::hasTensor, f.path().toString()), c, c.vocab());
    }

    /** Tensors looked up by GGUF name; {@code where} names them in errors (a file, or "from the root"). */
    public record Source(Function<String, Tensor> get, Predicate<String> has, String where) {
        public static Source of(Map<String, Tensor> tensors, String where) {
            return new Source(tensors::get, tensors::containsKey, where);
        }
    }

    /**
     * Weights from any source. {@code embeddingRows}: the token embedding's rows (the whole vocabulary, also when c
     * holds a node's slice of it), or 0 for a worker of a split model, which has none (tokenEmbd is null).
     */
    public static Weights from(Source f, LlamaConfig c, int embeddingRows) {
        Layer[] layers = new Layer[c.layers()];
        for (int i = 0; i < layers.length; i++) {
            String b = "blk." + i + ".";
            layers[i] = new Layer(
                    norm(f, b + "attn_norm.weight", c.dim()),
                    matrix(f, b + "attn_q.weight", c.qDim(), c.dim()),
                    matrix(f, b + "attn_k.weight", c.kvDim(), c.dim()),
                    matrix(f, b + "attn_v.weight", c.kvDim(), c.dim()),
                    matrix(f, b + "attn_output.weight", c.dim(), c.qDim()),
                    c.qkNorm() ? norm(f, b + "attn_q_norm.weight", c.headDim()) : null,
                    c.qkNorm() ? norm(f, b + "attn_k_norm.weight", c.headDim()) : null,
                    norm(f, b + "ffn_norm.weight", c.dim()),
                    matrix(f, b + "ffn_gate.weight", c.hidden(), c.dim()),
                    matrix(f, b + "ffn_up.weight", c.hidden(), c.dim()),
                    matrix(f, b + "ffn_down.weight", c.dim(), c.hidden()));
        }
        Tensor embd = embeddingRows > 0 ? matrix(f, "token_embd.weight", embeddingRows, c.dim()) : null;
        Tensor output = f.has().test("output.weight") || embd == null ? matrix(f, "output.weight", c.vocab(), c.dim()) : embd;
        Tensor freqs = f.has().test("rope_freqs.weight") ? norm(f, "rope_freqs.weight", c.ropeDim() / 2) : null;
        return new Weights(embd, layers, norm(f, "output_norm.weight", c.dim()), output, freqs);
    }

    private static Tensor matrix(Source f, String name, int rows, int cols) {
        Tensor t = get(f, name);
        if (t.rows() != rows || t.cols() != cols) {
            throw new HerdException(f.where() + ": tensor '" + name + "' has shape [" + t.rows() + " x " + t.cols()
                    + "], expected [" + rows + " x " + cols + "] (rows x cols)");
        }
        return t;
    }

    /** A vector of F32 values (norm weights, rope divisors). */
    private static Tensor norm(Source f, String name, int n) {
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
