package dev.herd.engine;

import dev.herd.kernel.ComputePool;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static dev.herd.model.ModelTensor.*;

/**
 * Causal grouped-query self-attention, from the normed input {@code pass.xb} to {@code pass.out}: Q, K, V projections
 * (plus a bias when the architecture has one: Qwen2), per-head RMSNorm of q and k (Qwen3), RoPE (interleaved or
 * NeoX, {@link Rope}), the KV cache, attention of each query head over its KV head's cache, and the output
 * projection. On a split model the node runs its own heads: its out is a partial sum (its columns of Wo).
 */
final class Attention {
    private final Pass pass;
    private final ModelConfig c;
    private final Weights.Layer[] layers;
    private final KvCache cache;
    private final Rope rope;
    private final float[] q, k, v;
    private final Input att;
    private final float[][] scores; // per piece
    /** Per layer: the Q/K/V biases and Q/K norms (null when the model has none); whether q/k/v or o read Q8_0. */
    private final float[][] qBias, kBias, vBias, qNorm, kNorm;
    private final boolean[] qkvQ8, oQ8;

    /** @param context the most positions a token attends to (a slot's region of the cache) */
    Attention(ModelConfig c, Weights w, Pass pass, KvCache cache, Rope rope, int context) {
        this.pass = pass;
        this.c = c;
        this.layers = w.layers();
        this.cache = cache;
        this.rope = rope;
        int batch = pass.xb.all.capacity, n = layers.length;
        q = new float[batch * c.qDim()];
        k = new float[batch * c.kvDim()];
        v = new float[batch * c.kvDim()];
        att = new Input(c.qDim(), batch);
        scores = new float[pass.pieces][context];
        qBias = new float[n][];
        kBias = new float[n][];
        vBias = new float[n][];
        qNorm = new float[n][];
        kNorm = new float[n][];
        qkvQ8 = new boolean[n];
        oQ8 = new boolean[n];
        for (int l = 0; l < n; l++) {
            Weights.Layer wl = layers[l];
            qBias[l] = floats(wl, ATTN_Q_BIAS);
            kBias[l] = floats(wl, ATTN_K_BIAS);
            vBias[l] = floats(wl, ATTN_V_BIAS);
            qNorm[l] = floats(wl, ATTN_Q_NORM);
            kNorm[l] = floats(wl, ATTN_K_NORM);
            qkvQ8[l] = Matmul.needsQ8(wl.get(ATTN_Q), c.dim()) || Matmul.needsQ8(wl.get(ATTN_K), c.dim()) || Matmul.needsQ8(wl.get(ATTN_V), c.dim());
            oQ8[l] = Matmul.needsQ8(wl.get(ATTN_OUTPUT), c.qDim());
            for (ModelTensor t : new ModelTensor[]{ATTN_Q, ATTN_K, ATTN_V}) pass.xb.readBy(wl.get(t));
            att.readBy(wl.get(ATTN_OUTPUT));
        }
    }

    private static float[] floats(Weights.Layer l, ModelTensor t) {
        return l.get(t) == null ? null : Dequant.all(l.get(t));
    }

    /** Bytes of the heap buffers it allocates (q, k, v, the scores of every piece, biases, norms, att), for planning. */
    static long bufferBytes(ModelConfig c, int maxSeqLen, int batchSize, int pieces) {
        long perLayer = (c.arch().qkNorm ? 2L * c.headDim() : 0) + (c.arch().qkvBias ? (long) c.qDim() + 2L * c.kvDim() : 0);
        long floats = (long) batchSize * (c.qDim() + 2L * c.kvDim()) + (long) pieces * maxSeqLen + c.layers() * perLayer;
        return 4 * floats + Input.bytes(Matmul.padded(c.qDim()), batchSize);
    }

    /** Runs layer {@code pass.layer} for the batch; stores its K and V in the cache. */
    void run() {
        int l = pass.layer;
        att.batch(pass.batch, pass.rows.each);
        pass.quantize(qkvQ8[l], pass.xb);
        pass.run(qkvStep);
        normRopeAndStore();
        pass.run(attendStep);
        pass.quantize(oQ8[l], att);
        pass.run(outputStep);
    }

    private final ComputePool.Op qkvStep = this::qkv;
    private final ComputePool.Op attendStep = this::attend;
    private final ComputePool.Op outputStep = this::output;

    private void qkv(int index, int count) {
        Weights.Layer w = layers[pass.layer];
        project(w.get(ATTN_Q), qBias[pass.layer], q, index, count);
        project(w.get(ATTN_K), kBias[pass.layer], k, index, count);
        project(w.get(ATTN_V), vBias[pass.layer], v, index, count);
    }

    /** out = w xb (+ bias) for this piece's rows. */
    private void project(Tensor w, float[] bias, float[] out, int index, int count) {
        Matmul.rows(w, pass.xb, out, index, count);
        if (bias != null) pass.addBias(out, w.rows(), bias, Matmul.from(w, index, count), Matmul.from(w, index + 1, count));
    }

    /** Q/K norms and RoPE for every head of every token; K and V go into the cache. On this thread: O(qDim). */
    private void normRopeAndStore() {
        int hd = c.headDim(), l = pass.layer;
        MemorySegment keys = cache.keys[l], values = cache.values[l];
        for (int b = 0; b < pass.batch; b++) {
            for (int h = 0; h < c.heads(); h++) {
                int off = b * c.qDim() + h * hd;
                if (qNorm[l] != null) VectorMath.rmsNorm(q, off, qNorm[l], q, off, hd, c.eps());
                rope.apply(q, off, b);
            }
            for (int h = 0; h < c.kvHeads(); h++) {
                int off = b * c.kvDim() + h * hd;
                long at = cache.at(h, pass.rows.base[b] + pass.rows.pos[b]);
                if (kNorm[l] != null) VectorMath.rmsNorm(k, off, kNorm[l], k, off, hd, c.eps());
                rope.apply(k, off, b);
                MemorySegment.copy(k, off, keys, ValueLayout.JAVA_FLOAT_UNALIGNED, at, hd);
                MemorySegment.copy(v, off, values, ValueLayout.JAVA_FLOAT_UNALIGNED, at, hd);
            }
        }
    }

    /** Row b attends to positions 0 .. its own of its region; query head h reads KV head h / (heads / kvHeads). */
    private void attend(int index, int count) {
        int heads = c.heads(), hd = c.headDim(), group = heads / c.kvHeads(), items = pass.batch * heads;
        MemorySegment keys = cache.keys[pass.layer], values = cache.values[pass.layer];
        float[] s = scores[index];
        float scale = (float) (1 / Math.sqrt(hd));
        for (int it = ComputePool.start(items, index, count), to = ComputePool.start(items, index + 1, count); it < to; it++) {
            int b = it / heads, h = it % heads, kvh = h / group, len = pass.rows.pos[b] + 1;
            int qOff = b * c.qDim() + h * hd, outOff = b * att.n + h * hd;
            long base = cache.at(kvh, pass.rows.base[b]), step = 4L * hd;
            for (int t = 0; t < len; t++) s[t] = VectorMath.dot(q, qOff, keys, base + t * step, hd) * scale;
            VectorMath.softmax(s, len);
            Arrays.fill(att.all.values, outOff, outOff + hd, 0f);
            for (int t = 0; t < len; t++) VectorMath.axpy(s[t], values, base + t * step, att.all.values, outOff, hd);
        }
    }

    private void output(int index, int count) {
        Matmul.rows(layers[pass.layer].get(ATTN_OUTPUT), att, pass.out, index, count);
    }
}
