package dev.herd.engine;

import dev.herd.kernel.ComputePool;
import dev.herd.model.ModelConfig;
import dev.herd.model.ModelTensor;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import static dev.herd.model.ModelTensor.FFN_DOWN;
import static dev.herd.model.ModelTensor.FFN_DOWN_SHEXP;
import static dev.herd.model.ModelTensor.FFN_GATE;
import static dev.herd.model.ModelTensor.FFN_GATE_SHEXP;
import static dev.herd.model.ModelTensor.FFN_UP;
import static dev.herd.model.ModelTensor.FFN_UP_SHEXP;

/**
 * A gated FFN: out = down (act(gate xb) * (up xb)), act SiLU (SwiGLU) or, where the architecture says so, GELU in its
 * tanh approximation (GeGLU: Gemma's, as transformers' gelu_pytorch_tanh and llama.cpp compute it). The dense FFN of a
 * layer ({@link #dense}, into {@code pass.out}), or a mixture's shared expert ({@link #shared}, into a buffer of the
 * mixture's). Split across nodes, a node holds rows of gate and up and the same columns of down, so its out is a
 * partial sum.
 */
final class Glu implements FeedForward {
    private final Pass pass;
    private final Weights.Layer[] layers;
    private final ModelTensor gateT, upT, downT;
    private final int hidden;
    private final boolean gelu;
    private final float[] gate, up, out;
    private final Input hb;
    /** Per layer, whether the kernels reading xb (gate, up) or hb (down) need Q8_0 activations. */
    private final boolean[] gateUpQ8, downQ8;

    private Glu(ModelConfig c, Weights w, Pass pass, int hidden, ModelTensor gateT, ModelTensor upT, ModelTensor downT, float[] out) {
        this.pass = pass;
        this.gelu = c.arch().gelu;
        this.layers = w.layers();
        this.hidden = hidden;
        this.gateT = gateT;
        this.upT = upT;
        this.downT = downT;
        this.out = out;
        int batch = pass.xb.all.capacity;
        gate = new float[batch * hidden];
        up = new float[batch * hidden];
        hb = new Input(hidden, batch);
        gateUpQ8 = new boolean[layers.length];
        downQ8 = new boolean[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Weights.Layer wl = layers[l];
            gateUpQ8[l] = Matmul.needsQ8(wl.get(gateT), c.dim()) || Matmul.needsQ8(wl.get(upT), c.dim());
            downQ8[l] = Matmul.needsQ8(wl.get(downT), hidden);
            pass.xb.readBy(wl.get(gateT));
            pass.xb.readBy(wl.get(upT));
            hb.readBy(wl.get(downT));
        }
    }

    /** The layer's dense FFN, writing pass.out. */
    static Glu dense(ModelConfig c, Weights w, Pass pass) {
        return new Glu(c, w, pass, c.hidden(), FFN_GATE, FFN_UP, FFN_DOWN, pass.out);
    }

    /** A mixture's shared expert (of this node's width), writing {@code out} (batch x dim). */
    static Glu shared(ModelConfig c, Weights w, Pass pass, float[] out) {
        return new Glu(c, w, pass, c.shared(), FFN_GATE_SHEXP, FFN_UP_SHEXP, FFN_DOWN_SHEXP, out);
    }

    static long bufferBytes(int hidden, int batchSize) {
        return 4L * batchSize * 2 * hidden + Input.bytes(Matmul.padded(hidden), batchSize);
    }

    @Override
    public void run() {
        int l = pass.layer;
        hb.batch(pass.batch, pass.rows.each);
        pass.quantize(gateUpQ8[l], pass.xb);
        pass.run(gateUpStep);
        pass.quantize(downQ8[l], hb);
        pass.run(downStep);
    }

    private final ComputePool.Op gateUpStep = this::gateUp;
    private final ComputePool.Op downStep = this::down;

    /** hb = act(gate xb) * (up xb), each piece combining the rows it computed. */
    private void gateUp(int index, int count) {
        Weights.Layer w = layers[pass.layer];
        Tensor g = w.get(gateT);
        int from = Matmul.from(g, index, count), to = Matmul.from(g, index + 1, count);
        Matmul.rows(g, pass.xb, gate, index, count);
        Matmul.rows(w.get(upT), pass.xb, up, index, count);
        for (int b = 0; b < pass.batch; b++) {
            for (int r = from; r < to; r++) {
                float x = gate[b * hidden + r];
                hb.all.values[b * hb.n + r] = (gelu ? gelu(x) : silu(x)) * up[b * hidden + r];
            }
        }
    }

    static float silu(float x) {
        return x / (1 + (float) Math.exp(-x));
    }

    /** GELU's tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    static float gelu(float x) {
        return (float) (0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))));
    }

    private void down(int index, int count) {
        Matmul.rows(layers[pass.layer].get(downT), hb, out, index, count);
    }
}
