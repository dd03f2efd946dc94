package dev.herd.engine;

import dev.herd.codec.Codecs;
import dev.herd.kernel.Kernels;
import dev.herd.tensor.Tensor;

/** Converts weight rows of any type Herd reads to floats: token embeddings, norm weights, and the odd-size matmul. */
final class Dequant {
    private Dequant() {}

    /** Writes row {@code r} of {@code t} to {@code out[off ..]}. */
    static void row(Tensor t, int r, float[] out, int off) {
        if (Kernels.interleaved(t.type())) { // a kernel's own layout
            for (int i = 0; i < t.cols(); i++) out[off + i] = Kernels.get(t, r, i);
        } else {
            Codecs.of(t.type()).decode(t.data(), r * t.rowBytes(), out, off, t.cols());
        }
    }

    /** A whole (small) tensor as floats, e.g. a norm weight vector. */
    static float[] all(Tensor t) {
        float[] out = new float[(int) t.size()];
        for (int r = 0; r < t.rows(); r++) row(t, r, out, r * t.cols());
        return out;
    }
}
