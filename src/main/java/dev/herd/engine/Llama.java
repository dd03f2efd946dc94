package dev.herd.engine;

import dev.herd.HerdException;
import dev.herd.format.GgufFile;
import dev.herd.kernel.Activations;
import dev.herd.kernel.ComputePool;
import dev.herd.kernel.Kernels;
import dev.herd.model.LlamaConfig;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The Llama / Qwen3 forward pass, in llama2.c's order, over a batch of up to {@code batchSize} consecutive tokens:
 * each weight matrix is read once per batch. Matmuls run on all threads of the pool split by output rows, attention
 * split by (token, head); the O(dim) steps (norms, RoPE, cache stores) run on the calling thread, where they cost
 * less than a barrier. Each step is a whole weight matrix times the batch, so a node of a cluster can run a row or
 * column slice of it. Buffers are allocated once; a forward pass allocates nothing (except the all-positions logits
 * array when asked for one).
 *
 * <p>Split across nodes, each node runs this same pass over its slice of every layer (see the cluster's split
 * plan): {@code config} then holds the node's own heads, FFN rows and vocabulary rows, and {@link Sync} sums the
 * partial outputs of the attention-output and FFN-down matmuls across nodes and gathers the logits.
 *
 * <p>Buffers hold one row per batch token: {@code x} (residual stream), {@code xb} (normed input of a matmul),
 * {@code q, k, v}, {@code att} (attention output), {@code gate, up} and {@code hb} (FFN), {@code out} (a matmul
 * result before it is added to {@code x}).
 */
public final class Llama implements AutoCloseable {
    public final LlamaConfig config;
    public final Weights weights;
    public final KvCache cache;
    private final ComputePool pool;
    private final GgufFile file;
    /** Copies of matrices the kernels keep in their own layout; freed with this engine. */
    private final Arena repacked = Arena.ofShared();
    private final int batchSize;
    private final Rope rope;

    private final float[][] attnNorm, ffnNorm, qNorm, kNorm;
    private final float[] outputNorm;
    /** Per layer, whether a kernel reading xb (qkv, gate/up), att (o) or hb (down) needs Q8_0 activations. */
    private final boolean[] qkvQ8, oQ8, gateUpQ8, downQ8;
    private final boolean outputQ8;

    private final float[] x, q, k, v, gate, up, out, logits;
    private final Activations xb, att, hb;
    private final float[][] scores; // per piece of the attention step
    private final int pieces; // per pool op
    private float[] batchLogits;
    private float[] logitsOut; // logits or batchLogits
    private final int[] one = new int[1];
    private final Sync sync;

    // The step being run: layer index, tokens in the batch, position of the first.
    private int layer, batch, startPos;

    private final ComputePool.Op quantizeXb = this::quantizeXb;
    private final ComputePool.Op quantizeAtt = this::quantizeAtt;
    private final ComputePool.Op quantizeHb = this::quantizeHb;
    private final ComputePool.Op qkvStep = this::qkv;
    private final ComputePool.Op attentionStep = this::attention;
    private final ComputePool.Op outputStep = this::output;
    private final ComputePool.Op gateUpStep = this::gateUp;
    private final ComputePool.Op downStep = this::down;
    private final ComputePool.Op logitsStep = this::classify;
    private final ComputePool.Op outputPartStep = this::outputPart;
    private final ComputePool.Op downPartStep = this::downPart;

    /**
     * Q4_0 matrices are repacked for the kernels ({@link Kernels#prepare}): in place when their memory is writable,
     * so pass read-only memory for weights that something else still reads in the file layout.
     *
     * @param maxSeqLen KV cache length (at most the model's context length)
     * @param batchSize tokens per forward chunk during prompt evaluation (e.g. 32)
     */
    public Llama(LlamaConfig config, Weights weights, int maxSeqLen, int threads, int batchSize) {
        this(config, weights, maxSeqLen, threads, batchSize, null, Sync.NONE, KvCache.Storage.MEMORY);
    }

    /**
     * A node's share of a split model ({@code config} and {@code weights} are the node's slice; {@link Sync#NONE} on
     * one node), with its KV cache in memory or in a memory-mapped file.
     */
    public Llama(LlamaConfig config, Weights weights, int maxSeqLen, int threads, int batchSize, Sync sync, KvCache.Storage kv) {
        this(config, weights, maxSeqLen, threads, batchSize, null, sync, kv);
    }

    private Llama(LlamaConfig c, Weights w, int maxSeqLen, int threads, int batchSize, GgufFile file, Sync sync, KvCache.Storage kv) {
        if (maxSeqLen < 1 || batchSize < 1) throw new IllegalArgumentException("maxSeqLen and batchSize must be >= 1");
        this.config = c;
        this.weights = w = w.withMatrices(t -> Kernels.prepare(t, repacked));
        for (Tensor t : w.matrices()) Kernels.warmUp(t);
        this.file = file;
        this.sync = sync;
        this.batchSize = batchSize;
        this.cache = new KvCache(c.layers(), c.kvHeads(), c.headDim(), maxSeqLen, kv);
        this.pool = new ComputePool(threads);
        // A few pieces per thread: a thread that starts late (busy machine) leaves its share to the others.
        this.pieces = pieces(threads);
        this.rope = new Rope(c, w.ropeFreqs() == null ? null : Dequant.all(w.ropeFreqs()), batchSize);
        int layers = c.layers();
        attnNorm = new float[layers][];
        ffnNorm = new float[layers][];
        qNorm = new float[layers][];
        kNorm = new float[layers][];
        qkvQ8 = new boolean[layers];
        oQ8 = new boolean[layers];
        gateUpQ8 = new boolean[layers];
        downQ8 = new boolean[layers];
        for (int l = 0; l < layers; l++) {
            Weights.Layer wl = w.layers()[l];
            qkvQ8[l] = needsQ8(wl.q(), c.dim()) || needsQ8(wl.k(), c.dim()) || needsQ8(wl.v(), c.dim());
            oQ8[l] = needsQ8(wl.o(), c.qDim());
            gateUpQ8[l] = needsQ8(wl.gate(), c.dim()) || needsQ8(wl.up(), c.dim());
            downQ8[l] = needsQ8(wl.down(), c.hidden());
            attnNorm[l] = Dequant.all(wl.attnNorm());
            ffnNorm[l] = Dequant.all(wl.ffnNorm());
            qNorm[l] = wl.qNorm() == null ? null : Dequant.all(wl.qNorm());
            kNorm[l] = wl.kNorm() == null ? null : Dequant.all(wl.kNorm());
        }
        outputNorm = Dequant.all(w.outputNorm());
        outputQ8 = needsQ8(w.output(), c.dim());
        x = new float[batchSize * c.dim()];
        q = new float[batchSize * c.qDim()];
        k = new float[batchSize * c.kvDim()];
        v = new float[batchSize * c.kvDim()];
        gate = new float[batchSize * c.hidden()];
        up = new float[batchSize * c.hidden()];
        out = new float[batchSize * c.dim()];
        logits = new float[c.vocab()];
        xb = Matmul.activations(c.dim(), batchSize);
        att = Matmul.activations(c.qDim(), batchSize);
        hb = Matmul.activations(c.hidden(), batchSize);
        for (Weights.Layer l : w.layers()) {
            for (Tensor t : List.of(l.q(), l.k(), l.v(), l.gate(), l.up())) xb.readBy(t);
            att.readBy(l.o());
            hb.readBy(l.down());
        }
        xb.readBy(w.output());
        scores = new float[pieces][maxSeqLen];
    }

    private static int pieces(int threads) {
        return threads == 1 ? 1 : 4 * threads;
    }

    /**
     * Bytes of the buffers the constructor allocates on the Java heap for {@code c} (a node's share), for planning a
     * cluster: the batch's vectors, the matmul inputs with their Q8_0 and interleaved forms (at most 16 bytes per
     * value), the attention scores of every piece, the logits, the norms as floats and the rope tables.
     */
    public static long bufferBytes(LlamaConfig c, int maxSeqLen, int batchSize, int threads) {
        long floats = (long) batchSize * (2L * c.dim() + c.qDim() + 2L * c.kvDim() + 2L * c.hidden() + c.ropeDim())
                + (long) pieces(threads) * maxSeqLen + c.vocab()
                + (long) c.layers() * (2L * c.dim() + (c.qkNorm() ? 2L * c.headDim() : 0)) + c.dim();
        long inputs = (long) batchSize * (Matmul.padded(c.dim()) + Matmul.padded(c.qDim()) + Matmul.padded(c.hidden()));
        return 4 * floats + 16 * inputs;
    }

    private static boolean needsQ8(Tensor w, int n) {
        return Matmul.needsQuantized(w, Matmul.padded(n));
    }

    /** Opens a GGUF model; {@link #close} also closes the file. maxSeqLen is capped at the model's context length. */
    public static Llama load(Path path, int maxSeqLen, int threads, int batchSize) {
        GgufFile f = GgufFile.open(path);
        try {
            LlamaConfig c = LlamaConfig.from(f);
            return new Llama(c, Weights.from(f, c), Math.min(maxSeqLen, c.contextLength()), threads, batchSize, f, Sync.NONE, KvCache.Storage.MEMORY);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** Size of the logits rows: the whole vocabulary, also when this node computes a slice of it. */
    public int vocab() {
        return sync.vocab(config.vocab());
    }

    public int maxSeqLen() {
        return cache.maxSeqLen;
    }

    /** Tokens per forward chunk in prompt evaluation. */
    public int batchSize() {
        return batchSize;
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
        if (startPos < 0 || startPos + tokens.length > cache.maxSeqLen) {
            throw new HerdException("positions " + startPos + ".." + (startPos + tokens.length - 1)
                    + " exceed the context of " + cache.maxSeqLen + " tokens");
        }
        float[] all = logitsForLastOnly ? null : new float[Math.multiplyExact(tokens.length, vocab())];
        for (int from = 0; from < tokens.length; from += batchSize) {
            int n = Math.min(batchSize, tokens.length - from);
            Sync.Logits mode = !logitsForLastOnly ? Sync.Logits.ALL : from + n == tokens.length ? Sync.Logits.LAST : Sync.Logits.NONE;
            embed(tokens, from, n);
            sync.start(tokens, from, n, startPos + from, mode);
            float[] rows = run(n, startPos + from, mode);
            if (mode == Sync.Logits.LAST) return rows;
            if (mode == Sync.Logits.ALL) {
                System.arraycopy(rows, 0, all, from * vocab(), n * vocab());
            }
        }
        return all;
    }

    /**
     * Evaluates {@code tokens} at positions 0.. (overwriting the cache there) and returns the sum over the tokens of
     * their final hidden states, after the output norm (what the logits are computed from), in double precision.
     */
    public double[] hiddenSum(int[] tokens) {
        if (tokens.length > cache.maxSeqLen) throw new HerdException(tokens.length + " tokens exceed the context of " + cache.maxSeqLen + " tokens");
        int dim = config.dim();
        double[] sum = new double[dim];
        for (int from = 0; from < tokens.length; from += batchSize) {
            int n = Math.min(batchSize, tokens.length - from);
            embed(tokens, from, n);
            sync.start(tokens, from, n, from, Sync.Logits.NONE);
            layers(n, from);
            normRows(outputNorm);
            for (int b = 0; b < n; b++) {
                for (int i = 0; i < dim; i++) sum[i] += xb.values[b * xb.n + i];
            }
        }
        return sum;
    }

    /**
     * A worker's forward pass: the root sent the embeddings of n tokens at positions pos.. (batch x dim floats).
     * Returns this node's logits slice rows when asked for logits, else null.
     */
    public float[] forward(float[] embeddings, int n, int pos, Sync.Logits mode) {
        if (n < 1 || n > batchSize || pos < 0 || pos > cache.maxSeqLen - n) { // pos + n could overflow
            throw new HerdException("positions " + pos + ".." + (pos + n - 1) + " exceed the context of " + cache.maxSeqLen + " tokens");
        }
        System.arraycopy(embeddings, 0, x, 0, n * config.dim());
        return run(n, pos, mode);
    }

    /** The layers, then the logits that {@code mode} asks for, from the embeddings in x. */
    private float[] run(int n, int pos, Sync.Logits mode) {
        layers(n, pos);
        if (mode == Sync.Logits.NONE) return null;
        if (batchLogits == null && mode == Sync.Logits.ALL) batchLogits = new float[batchSize * config.vocab()];
        logitsOut = mode == Sync.Logits.LAST ? logits : batchLogits;
        if (mode == Sync.Logits.LAST) {
            System.arraycopy(x, (n - 1) * config.dim(), x, 0, config.dim()); // only the last row matters
            batch = 1;
            xb.batch(1);
        }
        normRows(outputNorm);
        quantize(outputQ8, xb, quantizeXb);
        pool.run(logitsStep, pieces);
        return sync.gather(logitsOut, batch);
    }

    private void embed(int[] tokens, int from, int n) {
        int dim = config.dim(), rows = weights.tokenEmbd().rows();
        for (int b = 0; b < n; b++) {
            int t = tokens[from + b];
            if (t < 0 || t >= rows) throw new HerdException("token id " + t + " outside the vocabulary 0.." + (rows - 1));
            Dequant.row(weights.tokenEmbd(), t, x, b * dim);
        }
    }

    /** Runs all layers for n tokens at positions pos0.., from and into the residual stream x. */
    private void layers(int n, int pos0) {
        batch = n;
        startPos = pos0;
        xb.batch(n);
        att.batch(n);
        hb.batch(n);
        rope.prepare(pos0, n);
        for (layer = 0; layer < config.layers(); layer++) {
            normRows(attnNorm[layer]);
            quantize(qkvQ8[layer], xb, quantizeXb);
            pool.run(qkvStep, pieces);
            ropeAndStore();
            pool.run(attentionStep, pieces);
            quantize(oQ8[layer], att, quantizeAtt);
            residual(outputStep, outputPartStep);
            normRows(ffnNorm[layer]);
            quantize(gateUpQ8[layer], xb, quantizeXb);
            pool.run(gateUpStep, pieces);
            quantize(downQ8[layer], hb, quantizeHb);
            residual(downStep, downPartStep);
        }
    }

    /**
     * x += w a. One node: each piece adds the rows it computed. Split model: every node's product is a partial sum
     * (its slice of w's columns), summed across nodes before the add.
     */
    private void residual(ComputePool.Op fused, ComputePool.Op partial) {
        if (sync == Sync.NONE) {
            pool.run(fused, pieces);
            return;
        }
        pool.run(partial, pieces);
        sync.allReduce(out, batch, config.dim());
        for (int i = 0, n = batch * config.dim(); i < n; i++) x[i] += out[i];
    }

    /**
     * Quantizes a matmul input if its kernel reads Q8_0, on the pool, or on this thread for a single token where
     * a barrier costs more than the work.
     */
    private void quantize(boolean needed, Activations a, ComputePool.Op onPool) {
        if (!needed) return;
        if (batch == 1) a.quantize();
        else pool.run(onPool, pieces);
    }

    private void quantizeXb(int index, int count) {
        xb.quantize(index, count);
    }

    private void quantizeAtt(int index, int count) {
        att.quantize(index, count);
    }

    private void quantizeHb(int index, int count) {
        hb.quantize(index, count);
    }

    /** xb = rmsnorm(x) * weight for every batch row. Done on this thread: O(dim) per token, cheaper than a barrier. */
    private void normRows(float[] weight) {
        int dim = config.dim();
        for (int b = 0; b < batch; b++) VectorMath.rmsNorm(x, b * dim, weight, xb.values, b * xb.n, dim, config.eps());
    }

    private void qkv(int index, int count) {
        Weights.Layer w = weights.layers()[layer];
        Matmul.rows(w.q(), xb, q, Matmul.from(w.q(), index, count), Matmul.from(w.q(), index + 1, count));
        Matmul.rows(w.k(), xb, k, Matmul.from(w.k(), index, count), Matmul.from(w.k(), index + 1, count));
        Matmul.rows(w.v(), xb, v, Matmul.from(w.v(), index, count), Matmul.from(w.v(), index + 1, count));
    }

    /** Q/K norms (Qwen3) and RoPE for every head of every token; K and V go into the cache. On this thread: O(qDim). */
    private void ropeAndStore() {
        int hd = config.headDim();
        MemorySegment keys = cache.keys[layer], values = cache.values[layer];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < config.heads(); h++) {
                int off = b * config.qDim() + h * hd;
                if (qNorm[layer] != null) VectorMath.rmsNorm(q, off, qNorm[layer], q, off, hd, config.eps());
                rope.apply(q, off, b);
            }
            for (int h = 0; h < config.kvHeads(); h++) {
                int off = b * config.kvDim() + h * hd;
                long at = cache.at(h, startPos + b);
                if (kNorm[layer] != null) VectorMath.rmsNorm(k, off, kNorm[layer], k, off, hd, config.eps());
                rope.apply(k, off, b);
                MemorySegment.copy(k, off, keys, ValueLayout.JAVA_FLOAT_UNALIGNED, at, hd);
                MemorySegment.copy(v, off, values, ValueLayout.JAVA_FLOAT_UNALIGNED, at, hd);
            }
        }
    }

    /** Causal grouped-query attention: token b attends to positions 0 .. startPos + b. */
    private void attention(int index, int count) {
        int heads = config.heads(), hd = config.headDim(), group = heads / config.kvHeads(), items = batch * heads;
        MemorySegment keys = cache.keys[layer], values = cache.values[layer];
        float[] s = scores[index];
        float scale = (float) (1 / Math.sqrt(hd));
        for (int it = ComputePool.start(items, index, count), to = ComputePool.start(items, index + 1, count); it < to; it++) {
            int b = it / heads, h = it % heads, kvh = h / group, len = startPos + b + 1;
            int qOff = b * config.qDim() + h * hd, outOff = b * att.n + h * hd;
            long base = cache.at(kvh, 0), step = 4L * hd;
            for (int t = 0; t < len; t++) s[t] = VectorMath.dot(q, qOff, keys, base + t * step, hd) * scale;
            VectorMath.softmax(s, len);
            Arrays.fill(att.values, outOff, outOff + hd, 0f);
            for (int t = 0; t < len; t++) VectorMath.axpy(s[t], values, base + t * step, att.values, outOff, hd);
        }
    }

    private void output(int index, int count) {
        matmulAdd(weights.layers()[layer].o(), att, index, count);
    }

    private void down(int index, int count) {
        matmulAdd(weights.layers()[layer].down(), hb, index, count);
    }

    private void outputPart(int index, int count) {
        matmulPart(weights.layers()[layer].o(), att, index, count);
    }

    private void downPart(int index, int count) {
        matmulPart(weights.layers()[layer].down(), hb, index, count);
    }

    /** out = w a for this piece's rows: a split node's partial sum, added to x after the all-reduce. */
    private void matmulPart(Tensor w, Activations a, int index, int count) {
        Matmul.rows(w, a, out, Matmul.from(w, index, count), Matmul.from(w, index + 1, count));
    }

    /** x += w a, each piece adding the rows it computed. */
    private void matmulAdd(Tensor w, Activations a, int index, int count) {
        int from = Matmul.from(w, index, count), to = Matmul.from(w, index + 1, count), dim = config.dim();
        Matmul.rows(w, a, out, from, to);
        for (int b = 0; b < batch; b++) {
            for (int r = from; r < to; r++) x[b * dim + r] += out[b * dim + r];
        }
    }

    /** hb = silu(gate xb) * (up xb), each piece combining the rows it computed. */
    private void gateUp(int index, int count) {
        Weights.Layer w = weights.layers()[layer];
        int from = Matmul.from(w.gate(), index, count), to = Matmul.from(w.gate(), index + 1, count), hidden = config.hidden();
        Matmul.rows(w.gate(), xb, gate, from, to);
        Matmul.rows(w.up(), xb, up, from, to);
        for (int b = 0; b < batch; b++) {
            for (int r = from; r < to; r++) {
                float g = gate[b * hidden + r];
                hb.values[b * hb.n + r] = g / (1 + (float) Math.exp(-g)) * up[b * hidden + r];
            }
        }
    }

    private void classify(int index, int count) {
        Tensor w = weights.output();
        Matmul.rows(w, xb, logitsOut, Matmul.from(w, index, count), Matmul.from(w, index + 1, count));
    }

    @Override
    public void close() {
        pool.close();
        cache.close();
        repacked.close();
        if (file != null) file.close();
    }
}
