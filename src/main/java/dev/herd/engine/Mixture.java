package dev.herd.engine;

import dev.herd.kernel.Activations;
import dev.herd.kernel.ComputePool;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import java.util.Arrays;

import static dev.herd.model.ModelTensor.FFN_DOWN_EXPS;
import static dev.herd.model.ModelTensor.FFN_GATE_EXPS;
import static dev.herd.model.ModelTensor.FFN_GATE_INP;
import static dev.herd.model.ModelTensor.FFN_GATE_INP_SHEXP;
import static dev.herd.model.ModelTensor.FFN_UP_EXPS;

/**
 * A mixture-of-experts FFN (Mixtral, Qwen3 MoE, Qwen2 MoE): a router scores every expert for each token, the {@code used}
 * best-scored run, each a SwiGLU of its own, and out is their sum weighted by the softmax of the router logits (over
 * all experts, or renormalized over the chosen ones: {@link ModelConfig.Moe#normalized}). A shared expert (Qwen2 MoE)
 * runs for every token beside them, its output weighted by sigmoid(gate . xb) and added.
 *
 * <p>Split across nodes, every node holds its slice of every expert (rows of each expert's gate and up, the same
 * columns of its down, as for the dense FFN), so the chosen experts keep every node busy and out is a partial sum that
 * joins the layer's one all-reduce: the bytes per token are those of a dense model of the same dim. Every node
 * computes the router itself rather than the root sending the choice: the router is small (experts x dim floats,
 * replicated, a fraction of the experts' work), its input is the same on every node bit for bit (the all-reduce gives
 * every node the same residual stream, normed in a fixed order) and its logits are sums in a fixed order
 * ({@link VectorMath#fixedDot}), so every node chooses the same experts with the same weights, and the choice costs
 * no message (a message from the root would add a network hop per layer).
 *
 * <p>A single token (decoding) runs its chosen experts as slots of the same pool ops: one op for every slot's gate and
 * up rows, one for the down rows, which sums the slots. A batch (a prompt) runs one expert at a time over the tokens
 * that chose it, so every expert's weights are read once per batch.
 */
final class Mixture implements FeedForward {
    private final Pass pass;
    private final int dim, hidden, experts, used;
    private final boolean normalized;
    /** Per layer: the router (experts x dim, F32); each expert's gate, up and down as views of the stacked tensors. */
    private final Tensor[] router;
    private final Tensor[][] gate, up, down;
    private final boolean[] gateUpQ8, downQ8;
    /** Per token: every expert's logit; the chosen experts, best first, and their weights. */
    private final float[] logits, weights;
    private final int[] chosen;

    /** The slots the next ops run: each one expert over the rows of its input (slot 0 sized for a batch, the others for one token). */
    private int slots;
    private final int[] expertOf;
    private final Activations[] in, hb;
    private final float[][] g, u, d;
    /** Batch path: the tokens that chose the expert being run, their rows of xb, and their weights for it. */
    private final Activations gathered;
    private final int[] tokens;
    private final float[] tokenWeights;
    /** The shared expert (null: none), its output, and per layer its gate (one row, F32). */
    private final Glu shared;
    private final float[] sharedOut;
    private final Tensor[] sharedGate;

    Mixture(ModelConfig c, Weights w, Pass pass) {
        this.pass = pass;
        this.dim = c.dim();
        this.hidden = c.hidden();
        this.experts = c.moe().experts();
        this.used = c.moe().used();
        this.normalized = c.moe().normalized();
        Weights.Layer[] layers = w.layers();
        int n = layers.length, batch = pass.xb.all.capacity;
        router = new Tensor[n];
        gate = new Tensor[n][];
        up = new Tensor[n][];
        down = new Tensor[n][];
        gateUpQ8 = new boolean[n];
        downQ8 = new boolean[n];
        logits = new float[batch * experts];
        chosen = new int[batch * used];
        weights = new float[batch * used];
        expertOf = new int[used];
        in = new Activations[used];
        hb = new Activations[used];
        g = new float[used][];
        u = new float[used][];
        d = new float[used][];
        for (int j = 0; j < used; j++) {
            int rows = j == 0 ? batch : 1;
            hb[j] = Matmul.activations(hidden, rows);
            g[j] = new float[rows * hidden];
            u[j] = new float[rows * hidden];
            d[j] = new float[rows * dim];
        }
        gathered = Matmul.activations(dim, batch);
        sharedOut = c.shared() > 0 ? new float[batch * dim] : null;
        shared = c.shared() > 0 ? Glu.shared(c, w, pass, sharedOut) : null;
        sharedGate = new Tensor[n];
        tokens = new int[batch];
        tokenWeights = new float[batch];
        for (int l = 0; l < n; l++) {
            Weights.Layer wl = layers[l];
            router[l] = wl.get(FFN_GATE_INP);
            if (shared != null) sharedGate[l] = wl.get(FFN_GATE_INP_SHEXP);
            gate[l] = split(wl.get(FFN_GATE_EXPS));
            up[l] = split(wl.get(FFN_UP_EXPS));
            down[l] = split(wl.get(FFN_DOWN_EXPS));
            gateUpQ8[l] = Matmul.needsQ8(gate[l][0], dim) || Matmul.needsQ8(up[l][0], dim);
            downQ8[l] = Matmul.needsQ8(down[l][0], hidden);
            for (Activations a : new Activations[]{pass.xb.all, gathered}) {
                a.readBy(gate[l][0]);
                a.readBy(up[l][0]);
            }
            for (Activations a : hb) a.readBy(down[l][0]);
        }
    }

    /** Each expert's matrix as a view of the stacked tensor. */
    private Tensor[] split(Tensor stacked) {
        int rows = stacked.rows() / experts;
        Tensor[] each = new Tensor[experts];
        for (int e = 0; e < experts; e++) each[e] = stacked.rows(e * rows, (e + 1) * rows);
        return each;
    }

    /** Bytes of the heap buffers it allocates, for planning. */
    static long bufferBytes(ModelConfig c, int batchSize) {
        int k = c.moe().used(), slotRows = batchSize + k - 1;
        long floats = (long) batchSize * (c.moe().experts() + 2L * k + 2) + (long) slotRows * (2L * c.hidden() + c.dim());
        long shared = c.shared() == 0 ? 0 : Glu.bufferBytes(c.shared(), batchSize) + 4L * batchSize * c.dim();
        return 4 * floats + 16L * slotRows * Matmul.padded(c.hidden()) + 16L * batchSize * Matmul.padded(c.dim()) + shared;
    }

    @Override
    public void run() {
        if (shared != null) shared.run(); // into sharedOut, before the experts add to out
        experts();
        if (shared != null) addShared();
    }

    /**
     * out += sigmoid(gate . xb) times the shared expert's output, per token: the gate's dot product in a fixed order
     * and StrictMath, as the router's, so every node scales its partial sum by the same weight.
     */
    private void addShared() {
        Tensor g = sharedGate[pass.layer];
        float[] out = pass.out;
        for (int b = 0; b < pass.batch; b++) {
            float logit = VectorMath.fixedDot(pass.xb.all.values, b * pass.xb.n, g.data(), 0, dim);
            float weight = (float) (1 / (1 + StrictMath.exp(-logit)));
            for (int i = b * dim, end = i + dim; i < end; i++) out[i] += weight * sharedOut[i];
        }
    }

    /** The chosen experts' weighted sum into out. */
    private void experts() {
        int l = pass.layer;
        pass.run(routeStep);
        for (int b = 0; b < pass.batch; b++) choose(b);
        if (pass.batch == 1) {
            slots = used;
            for (int j = 0; j < used; j++) {
                expertOf[j] = chosen[j];
                in[j] = pass.xb.all;
                hb[j].batch(1);
            }
            pass.quantize(gateUpQ8[l], pass.xb.all, pass.batch);
            runSlots(l);
            return;
        }
        Arrays.fill(pass.out, 0, pass.batch * dim, 0f);
        slots = 1;
        in[0] = gathered;
        for (int e = 0; e < experts; e++) {
            int n = gather(e);
            if (n == 0) continue;
            expertOf[0] = e;
            gathered.batch(n);
            hb[0].batch(n);
            pass.quantize(gateUpQ8[l], gathered, n);
            runSlots(l);
        }
    }

    /** The slots' gate and up rows, then their down rows added to out. */
    private void runSlots(int l) {
        pass.run(gateUpStep);
        for (int j = 0; j < slots; j++) pass.quantize(downQ8[l], hb[j], hb[j].batch());
        pass.run(downStep);
    }

    /** The tokens of the batch that chose expert {@code e}, their xb rows gathered; returns how many. */
    private int gather(int e) {
        int n = 0, width = pass.xb.n;
        for (int b = 0; b < pass.batch; b++) {
            for (int j = 0; j < used; j++) {
                if (chosen[b * used + j] != e) continue;
                System.arraycopy(pass.xb.all.values, b * width, gathered.values, n * width, width);
                tokens[n] = b;
                tokenWeights[n++] = weights[b * used + j];
            }
        }
        return n;
    }

    private final ComputePool.Op routeStep = this::route;
    private final ComputePool.Op gateUpStep = this::gateUp;
    private final ComputePool.Op downStep = this::down;

    /** Router logits of this piece's (token, expert) pairs: one fixed-order sum each, the same on every node. */
    private void route(int index, int count) {
        Tensor r = router[pass.layer];
        int items = pass.batch * experts;
        for (int it = ComputePool.start(items, index, count), to = ComputePool.start(items, index + 1, count); it < to; it++) {
            int b = it / experts, e = it % experts;
            logits[it] = VectorMath.fixedDot(pass.xb.all.values, b * pass.xb.n, r.data(), 4L * e * dim, dim);
        }
    }

    /**
     * Token b's {@code used} best experts (the lower index first on a tie) and their weights: the softmax of all
     * logits at the chosen ones, or of the chosen logits alone when normalized (the same as renormalizing). StrictMath:
     * the same weights on every node.
     */
    private void choose(int b) {
        int at = b * experts, first = b * used;
        for (int j = 0; j < used; j++) {
            int best = -1;
            for (int e = 0; e < experts; e++) {
                if (taken(b, j, e)) continue;
                if (best < 0 || logits[at + e] > logits[at + best]) best = e;
            }
            chosen[first + j] = best;
        }
        float max = logits[at + chosen[first]], sum = 0;
        for (int j = 0; j < used; j++) sum += weights[first + j] = (float) StrictMath.exp(logits[at + chosen[first + j]] - max);
        if (!normalized) {
            sum = 0;
            for (int e = 0; e < experts; e++) sum += (float) StrictMath.exp(logits[at + e] - max);
        }
        for (int j = 0; j < used; j++) weights[first + j] /= sum;
    }

    private boolean taken(int b, int j, int e) {
        for (int i = 0; i < j; i++) if (chosen[b * used + i] == e) return true;
        return false;
    }

    /** hb = silu(gate x) * (up x) of every slot, for this piece's rows. */
    private void gateUp(int index, int count) {
        Tensor[] gl = gate[pass.layer], ul = up[pass.layer];
        int from = Matmul.from(gl[0], index, count), to = Matmul.from(gl[0], index + 1, count);
        for (int j = 0; j < slots; j++) {
            int e = expertOf[j];
            Matmul.rows(gl[e], in[j], g[j], 0, from, to);
            Matmul.rows(ul[e], in[j], u[j], 0, from, to);
            float[] gj = g[j], uj = u[j], h = hb[j].values;
            for (int b = 0; b < in[j].batch(); b++) {
                for (int r = from; r < to; r++) {
                    float x = gj[b * hidden + r];
                    h[b * hb[j].n + r] = Glu.silu(x) * uj[b * hidden + r];
                }
            }
        }
    }

    /** out rows of this piece += each slot's weight times its down rows (decoding: out = their weighted sum). */
    private void down(int index, int count) {
        Tensor[] dl = down[pass.layer];
        int from = Matmul.from(dl[0], index, count), to = Matmul.from(dl[0], index + 1, count);
        float[] out = pass.out;
        if (pass.batch == 1) Arrays.fill(out, from, to, 0f);
        for (int j = 0; j < slots; j++) {
            Matmul.rows(dl[expertOf[j]], hb[j], d[j], 0, from, to);
            for (int b = 0; b < hb[j].batch(); b++) {
                int token = pass.batch == 1 ? 0 : tokens[b];
                float w = pass.batch == 1 ? weights[j] : tokenWeights[b];
                for (int r = from; r < to; r++) out[token * dim + r] += w * d[j][b * dim + r];
            }
        }
    }
}
