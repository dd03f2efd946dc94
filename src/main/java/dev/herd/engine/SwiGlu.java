package dev.herd.engine;

import dev.herd.kernel.ComputePool;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;
import dev.herd.tensor.Tensor;

import static dev.herd.model.ModelTensor.FFN_DOWN;
import static dev.herd.model.ModelTensor.FFN_GATE;
import static dev.herd.model.ModelTensor.FFN_UP;

/**
 * The dense SwiGLU FFN: out = down (silu(gate xb) * (up xb)). Split across nodes, a node holds rows of gate and up
 * and the same columns of down, so its out is a partial sum.
 */
final class SwiGlu implements FeedForward {
    private final Pass pass;
    private final Weights.Layer[] layers;
    private final int hidden;
    private final float[] gate, up;
    private final Input hb;
    /** Per layer, whether the kernels reading xb (gate, up) or hb (down) need Q8_0 activations. */
    private final boolean[] gateUpQ8, downQ8;

    SwiGlu(ModelConfig c, Weights w, Pass pass) {
        this.pass = pass;
        this.layers = w.layers();
        this.hidden = c.hidden();
        int batch = pass.xb.all.capacity;
        gate = new float[batch * hidden];
        up = new float[batch * hidden];
        hb = new Input(hidden, batch);
        gateUpQ8 = new boolean[layers.length];
        downQ8 = new boolean[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Weights.Layer wl = layers[l];
            gateUpQ8[l] = Matmul.needsQ8(wl.get(FFN_GATE), c.dim()) || Matmul.needsQ8(wl.get(FFN_UP), c.dim());
            downQ8[l] = Matmul.needsQ8(wl.get(FFN_DOWN), hidden);
            pass.xb.readBy(wl.get(FFN_GATE));
            pass.xb.readBy(wl.get(FFN_UP));
            hb.readBy(wl.get(FFN_DOWN));
        }
    }

    static long bufferBytes(ModelConfig c, int batchSize) {
        return 4L * batchSize * 2 * c.hidden() + Input.bytes(Matmul.padded(c.hidden()), batchSize);
    }

    @Override
    public void run() {
        int l = pass.layer;
        hb.batch(pass.batch, pass.rows.each);
        pass.quantize(gateUpQ8[l], pass.xb, quantizeXb);
        pass.run(gateUpStep);
        pass.quantize(downQ8[l], hb, quantizeHb);
        pass.run(downStep);
    }

    private final ComputePool.Op quantizeXb = this::quantizeXb;
    private final ComputePool.Op quantizeHb = this::quantizeHb;
    private final ComputePool.Op gateUpStep = this::gateUp;
    private final ComputePool.Op downStep = this::down;

    private void quantizeXb(int index, int count) {
        pass.xb.all.quantize(index, count);
    }

    private void quantizeHb(int index, int count) {
        hb.all.quantize(index, count);
    }

    /** hb = silu(gate xb) * (up xb), each piece combining the rows it computed. */
    private void gateUp(int index, int count) {
        Weights.Layer w = layers[pass.layer];
        Tensor g = w.get(FFN_GATE);
        int from = Matmul.from(g, index, count), to = Matmul.from(g, index + 1, count);
        Matmul.rows(g, pass.xb, gate, index, count);
        Matmul.rows(w.get(FFN_UP), pass.xb, up, index, count);
        for (int b = 0; b < pass.batch; b++) {
            for (int r = from; r < to; r++) {
                float x = gate[b * hidden + r];
                hb.all.values[b * hb.n + r] = x / (1 + (float) Math.exp(-x)) * up[b * hidden + r];
            }
        }
    }

    private void down(int index, int count) {
        Matmul.rows(layers[pass.layer].get(FFN_DOWN), hb, pass.out, index, count);
    }
}
