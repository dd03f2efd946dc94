package dev.herd.kernel;

import dev.herd.tensor.Tensor;

/** Multiplies weight rows by activation vectors. One implementation per weight type; see {@link Kernels}. */
public interface Kernel {

    /**
     * For each batch vector b and each weight row r in [rowFrom, rowTo):
     * {@code out[b * outStride + outOffset + r - rowFrom] = dot(w[r], x[b])}.
     * Quantized kernels require {@link Activations#quantize} to have run.
     */
    void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo);

    /** Whether this kernel reads the Q8_0 form of the activations. */
    boolean needsQuantized();

    /**
     * Whether each vector of a batch comes out bit for bit as it does in a batch of one (the same operations in the same
     * order): then a pass over separate sequences may run them as one batch, and each still gets what it gets alone.
     */
    default boolean rowsExact() {
        return false;
    }
}
