package dev.herd.engine;

import dev.herd.HerdException;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.kernel.ComputePool;
import dev.herd.kernel.Kernels;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.nio.file.Path;

import static dev.herd.model.ModelTensor.ATTN_NORM;
import static dev.herd.model.ModelTensor.FFN_NORM;

/**
 * The forward pass of a Llama-family model (Llama, Mistral, Qwen2, Qwen3), in llama2.c's order, over a batch of up to
 * {@code batchSize} consecutive tokens: each weight matrix is read once per batch. A layer is two components, each
 * from an RMS-normed copy of the residual stream to an output added back to it: {@link Attention} (with the
 * architecture's biases, q/k norms and RoPE variant) and a {@link FeedForward} (SwiGLU, or a {@link Mixture} of
 * experts). Matmuls run on all threads of the pool split by output rows, attention split by (token, head); the
 * O(dim) steps (norms, RoPE, cache stores, residual adds) run on the calling thread, where they cost less than a
 * barrier. Buffers are allocated once; a forward pass allocates nothing (except the all-positions logits array when
 * asked for one).
 *
 * <p>Split across nodes, each node runs this same pass over its slice of every layer (see the cluster's split
 * plan): {@code config} then holds the node's own heads, FFN rows and vocabulary rows, and {@link Sync} sums the
 * components' partial outputs across nodes and gathers the logits.
 *
 * <p>Buffers hold one row per batch token: {@code x} (residual stream), {@code xb} (normed input of a component or
 * the classifier), {@code out} (a component's output before it is added to {@code x}).
 *
 * <p>The KV cache may hold several sequences ({@code slots}), each in its own region of {@code maxSeqLen} positions:
 * a pass is a prompt chunk of one slot, or the next token of several slots at once ({@link #decode}, see
 * {@link Rows}); {@link Scheduler} runs such passes for concurrent generations.
 */
public final class Llama implements Forward, AutoCloseable {
    public final ModelConfig config;
    public final Weights weights;
    public final KvCache cache;
    private final ComputePool pool;
    private final GgufFile file;
    /** Copies of matrices the kernels keep in their own layout; freed with this engine. */
    private final Arena repacked = Arena.ofShared();
    private final int batchSize, context, slots;
    private final Rows rows;
    private final Rope rope;
    private final Pass pass;
    private final Attention attention;
    private final FeedForward ffn;

    private final float[][] attnNorm, ffnNorm;
    private final float[] outputNorm;
    private final boolean outputQ8;

    private final float[] x, out, logits;
    private final Input xb;
    private float[] batchLogits;
    private float[] logitsOut; // logits or batchLogits
    private final int[] one = new int[1];
    private final Sync sync;

    private final ComputePool.Op logitsStep = this::classify;

    /**
     * Q4_0 matrices are repacked for the kernels ({@link Kernels#prepare}): in place when their memory is writable,
     * so pass read-only memory for weights that something else still reads in the file layout.
     *
     * @param maxSeqLen KV cache length (at most the model's context length)
     * @param batchSize tokens per forward chunk during prompt evaluation (e.g. 32)
     */
    public Llama(ModelConfig config, Weights weights, int maxSeqLen, int threads, int batchSize) {
        this(config, weights, maxSeqLen, 1, threads, batchSize, null, Sync.NONE, KvCache.Storage.MEMORY);
    }

    /**
     * A node's share of a split model ({@code config} and {@code weights} are the node's slice; {@link Sync#NONE} on
     * one node), with its KV cache in memory or in a memory-mapped file.
     */
    public Llama(ModelConfig config, Weights weights, int maxSeqLen, int threads, int batchSize, Sync sync, KvCache.Storage kv) {
        this(config, weights, maxSeqLen, 1, threads, batchSize, null, sync, kv);
    }

    /** As above, with a KV cache of {@code slots} regions of {@code maxSeqLen} positions, one per sequence. */
    public Llama(ModelConfig config, Weights weights, int maxSeqLen, int slots, int threads, int batchSize, Sync sync, KvCache.Storage kv) {
        this(config, weights, maxSeqLen, slots, threads, batchSize, null, sync, kv);
    }

    private Llama(ModelConfig c, Weights w, int maxSeqLen, int slots, int threads, int batchSize, GgufFile file, Sync sync, KvCache.Storage kv) {
        if (maxSeqLen < 1 || batchSize < 1 || slots < 1 || slots > batchSize || (long) slots * maxSeqLen > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("maxSeqLen, batchSize and slots must be >= 1, slots at most batchSize, their cache within 2^31 positions");
        }
        this.config = c;
        this.weights = w = w.withMatrices((t, stacked) -> Kernels.prepare(t, stacked, repacked));
        for (Tensor t : w.matrices()) Kernels.warmUp(t);
        this.file = file;
        this.sync = sync;
        this.batchSize = batchSize;
        this.context = maxSeqLen;
        this.slots = slots;
        this.rows = new Rows(batchSize);
        this.cache = new KvCache(c.layers(), c.kvHeads(), c.headDim(), slots * maxSeqLen, kv);
        this.pool = new ComputePool(threads);
        this.rope = new Rope(c, w.ropeFreqs() == null ? null : Dequant.all(w.ropeFreqs()), batchSize);
        x = new float[batchSize * c.dim()];
        out = new float[batchSize * c.dim()];
        logits = new float[c.vocab()];
        xb = new Input(c.dim(), batchSize);
        pass = new Pass(pool, pieces(threads), xb, out, rows);
        attention = new Attention(c, w, pass, cache, rope, maxSeqLen);
        ffn = FeedForward.of(c, w, pass);
        attnNorm = new float[c.layers()][];
        ffnNorm = new float[c.layers()][];
        for (int l = 0; l < c.layers(); l++) {
            attnNorm[l] = Dequant.all(w.layers()[l].get(ATTN_NORM));
            ffnNorm[l] = Dequant.all(w.layers()[l].get(FFN_NORM));
        }
        outputNorm = Dequant.all(w.outputNorm());
        outputQ8 = Matmul.needsQ8(w.output(), c.dim());
        xb.readBy(w.output());
    }

    private static int pieces(int threads) {
        return threads == 1 ? 1 : 4 * threads;
    }

    /**
     * Bytes of the buffers the constructor allocates on the Java heap for {@code c} (a node's share), for planning a
     * cluster: the batch's vectors, the matmul inputs with their Q8_0 and interleaved forms (at most 16 bytes per
     * value), the logits, the norms as floats, the rope tables, and what the components allocate.
     */
    public static long bufferBytes(ModelConfig c, int maxSeqLen, int batchSize, int threads) {
        long floats = (long) batchSize * (2L * c.dim() + c.ropeDim()) + c.vocab() + (long) c.layers() * 2L * c.dim() + c.dim();
        return 4 * floats + Input.bytes(Matmul.padded(c.dim()), batchSize)
                + Attention.bufferBytes(c, maxSeqLen, batchSize, pieces(threads)) + FeedForward.bufferBytes(c, batchSize);
    }

    /** Opens a GGUF model; {@link #close} also closes the file. maxSeqLen is capped at the model's context length. */
    public static Llama load(Path path, int maxSeqLen, int threads, int batchSize) {
        GgufFile f = GgufFile.open(path);
        try {
            ModelConfig c = GgufConfig.read(f);
            return new Llama(c, Weights.from(f.source(), c), Math.min(maxSeqLen, c.contextLength()), 1, threads, batchSize, f, Sync.NONE, KvCache.Storage.MEMORY);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** Size of the logits rows: the whole vocabulary, also when this node computes a slice of it. */
    public int vocab() {
        return sync.vocab(config.vocab());
    }

    /** Positions of a sequence: the context of each slot. */
    @Override
    public int maxSeqLen() {
        return context;
    }

    /** Sequences the KV cache holds at once, each in its own region. */
    public int slots() {
        return slots;
    }

    /** Tokens per forward chunk in prompt evaluation. */
    public int batchSize() {
        return batchSize;
    }

    @Override
    public float[] prompt(int[] tokens, int startPos) {
        return forward(tokens, startPos, true);
    }

    @Override
    public float[] next(int token, int pos) {
        return forward(token, pos);
    }

    /** Decodes one token at {@code pos}; returns the logits (a reused array, valid until the next call). */
    public float[] forward(int token, int pos) {
        one[0] = token;
        return forward(one, pos, true);
    }

    /**
     * Evaluates {@code tokens} at positions startPos.. in chunks of batchSize, filling the KV cache. Returns the
     * last token's logits (a reused float[vocab]) if {@code logitsForLastOnly}, else a new array of
     * tokens.length x vocab logits, row-major.
     */
    public float[] forward(int[] tokens, int startPos, boolean logitsForLastOnly) {
        return forward(0, tokens, startPos, logitsForLastOnly);
    }

    /** {@link #forward(int[], int, boolean)} in the region of {@code slot}. */
    public float[] forward(int slot, int[] tokens, int startPos, boolean logitsForLastOnly) {
        if (startPos < 0 || startPos + tokens.length > context) {
            throw new HerdException("positions " + startPos + ".." + (startPos + tokens.length - 1)
                    + " exceed the context of " + context + " tokens");
        }
        float[] all = logitsForLastOnly ? null : new float[Math.multiplyExact(tokens.length, vocab())];
        for (int from = 0; from < tokens.length; from += batchSize) {
            int n = Math.min(batchSize, tokens.length - from);
            Sync.Logits mode = !logitsForLastOnly ? Sync.Logits.ALL : from + n == tokens.length ? Sync.Logits.LAST : Sync.Logits.NONE;
            float[] rows = chunk(slot, tokens, from, n, startPos + from, mode);
            if (mode == Sync.Logits.LAST) return rows;
            if (mode == Sync.Logits.ALL) {
                System.arraycopy(rows, 0, all, from * vocab(), n * vocab());
            }
        }
        return all;
    }

    /** One pass over tokens[from .. from + n) at positions pos.. of {@code slot}; the logits {@code mode} asks for. */
    float[] chunk(int slot, int[] tokens, int from, int n, int pos, Sync.Logits mode) {
        checkSlot(slot, pos, n);
        rows.run(slot * context, pos, n);
        embed(tokens, from, n);
        sync.start(tokens, from, rows, mode);
        return run(mode);
    }

    /**
     * The next token of {@code n} sequences at once: tokens[b] at positions[b] of slots[b]. Returns their logits rows
     * (n x vocab, reused), each exactly what {@link #forward(int, int)} gives for that token alone.
     */
    public float[] decode(int n, int[] slots, int[] tokens, int[] positions) {
        rows.each(n);
        for (int b = 0; b < n; b++) {
            checkSlot(slots[b], positions[b], 1);
            rows.set(b, slots[b] * context, positions[b]);
        }
        embed(tokens, 0, n);
        sync.start(tokens, 0, rows, Sync.Logits.ALL);
        return run(Sync.Logits.ALL);
    }

    private void checkSlot(int slot, int pos, int n) {
        if (slot < 0 || slot >= slots) throw new HerdException("slot " + slot + " outside 0.." + (slots - 1));
        if (n < 1 || n > batchSize || pos < 0 || pos > context - n) {
            throw new HerdException("positions " + pos + ".." + (pos + n - 1) + " exceed the context of " + context + " tokens");
        }
    }

    /**
     * Evaluates {@code tokens} at positions 0.. (overwriting the cache there) and returns the sum over the tokens of
     * their final hidden states, after the output norm (what the logits are computed from), in double precision.
     */
    @Override
    public double[] hiddenSum(int[] tokens) {
        if (tokens.length > context) throw new HerdException(tokens.length + " tokens exceed the context of " + context + " tokens");
        double[] sum = new double[config.dim()];
        for (int from = 0; from < tokens.length; from += batchSize) hidden(0, tokens, from, Math.min(batchSize, tokens.length - from), sum);
        return sum;
    }

    /** Adds the final hidden states of tokens[from .. from + n), at positions from.. of {@code slot}, to {@code sum}. */
    void hidden(int slot, int[] tokens, int from, int n, double[] sum) {
        checkSlot(slot, from, n);
        int dim = config.dim();
        rows.run(slot * context, from, n);
        embed(tokens, from, n);
        sync.start(tokens, from, rows, Sync.Logits.NONE);
        layers(n);
        normRows(outputNorm);
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < dim; i++) sum[i] += xb.all.values[b * xb.n + i];
        }
    }

    /**
     * A worker's forward pass: the root sent the embeddings of the rows' tokens (rows x dim floats). Returns this
     * node's logits slice rows when asked for logits, else null.
     */
    public float[] forward(float[] embeddings, Rows given, Sync.Logits mode) {
        if (given.n > batchSize) throw new HerdException("a pass of " + given.n + " rows, more than " + batchSize);
        given.check(cache.maxSeqLen);
        if (given.each) rows.each(given.n);
        else rows.run(given.base[0], given.pos[0], given.n);
        for (int b = 0; b < given.n; b++) rows.set(b, given.base[b], given.pos[b]);
        System.arraycopy(embeddings, 0, x, 0, given.n * config.dim());
        return run(mode);
    }

    /** The layers, then the logits that {@code mode} asks for, from the embeddings in x. */
    private float[] run(Sync.Logits mode) {
        int n = rows.n;
        layers(n);
        if (mode == Sync.Logits.NONE) return null;
        if (batchLogits == null && mode == Sync.Logits.ALL) batchLogits = new float[batchSize * config.vocab()];
        logitsOut = mode == Sync.Logits.LAST ? logits : batchLogits;
        if (mode == Sync.Logits.LAST) {
            System.arraycopy(x, (n - 1) * config.dim(), x, 0, config.dim()); // only the last row matters
            pass.batch = 1;
            xb.batch(1, false);
        }
        normRows(outputNorm);
        pass.quantize(outputQ8, xb);
        pass.run(logitsStep);
        return sync.gather(logitsOut, pass.batch);
    }

    private void embed(int[] tokens, int from, int n) {
        int dim = config.dim(), rows = weights.tokenEmbd().rows();
        float scale = (float) Math.sqrt(dim); // Gemma's, rounded to float as llama.cpp and transformers do
        for (int b = 0; b < n; b++) {
            int t = tokens[from + b];
            if (t < 0 || t >= rows) throw new HerdException("token id " + t + " outside the vocabulary 0.." + (rows - 1));
            Dequant.row(weights.tokenEmbd(), t, x, b * dim);
            if (config.arch().scaledEmbedding) for (int i = b * dim; i < (b + 1) * dim; i++) x[i] *= scale;
        }
    }

    /** Runs all layers for the n rows, from and into the residual stream x. */
    private void layers(int n) {
        pass.batch = n;
        xb.batch(n, rows.each);
        rope.prepare(rows);
        for (int l = 0; l < config.layers(); l++) {
            pass.layer = l;
            normRows(attnNorm[l]);
            attention.run();
            addOut();
            normRows(ffnNorm[l]);
            ffn.run();
            addOut();
        }
    }

    /** x += out, once out holds the sum over all nodes of their partial outputs (on one node, its own). */
    private void addOut() {
        sync.allReduce(out, pass.batch, config.dim());
        for (int i = 0, n = pass.batch * config.dim(); i < n; i++) x[i] += out[i];
    }

    /**
     * xb = rmsnorm(x) * weight for every batch row. Done on this thread: O(dim) per token, cheaper than a barrier.
     * A mixture of experts routes from xb, so there it is the same on every machine ({@link VectorMath#rmsNormFixed}).
     */
    private void normRows(float[] weight) {
        int dim = config.dim();
        for (int b = 0; b < pass.batch; b++) {
            if (config.moe() != null) VectorMath.rmsNormFixed(x, b * dim, weight, xb.all.values, b * xb.n, dim, config.eps());
            else VectorMath.rmsNorm(x, b * dim, weight, xb.all.values, b * xb.n, dim, config.eps());
        }
    }

    private void classify(int index, int count) {
        Matmul.rows(weights.output(), xb, logitsOut, index, count);
    }

    @Override
    public void close() {
        pool.close();
        cache.close();
        repacked.close();
        if (file != null) file.close();
    }
}
