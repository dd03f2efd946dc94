package dev.herd.engine;

import dev.herd.kernel.Activations;
import dev.herd.tensor.Tensor;

/**
 * A matmul input: the pass's vectors as one batch ({@link #all}, which the engine writes), and for passes whose rows
 * are separate sequences ({@link Rows#each}) a copy of each vector as a batch of one, quantized on its own, so that
 * the matmuls whose batches are not exact take the lone-token kernels.
 */
final class Input {
    final Activations all;
    final int n;
    private final Activations[] rows;
    /** Whether some reader takes separate sequences row by row ({@link Matmul#together}): only then are lone copies made. */
    private boolean lone;
    private boolean each;

    Input(int n, int capacity) {
        all = Matmul.activations(n, capacity);
        this.n = all.n;
        rows = new Activations[capacity];
        for (int b = 0; b < capacity; b++) rows[b] = new Activations(this.n, 1);
    }

    /** Bytes of a padded length {@code n} for {@code capacity} vectors: the batch and the lone copies (16 per value each). */
    static long bytes(int n, int capacity) {
        return 32L * capacity * n;
    }

    void readBy(Tensor w) {
        lone |= !Matmul.together(w);
        all.readBy(w);
        for (Activations a : rows) a.readBy(w);
    }

    void batch(int n, boolean each) {
        all.batch(n);
        this.each = each;
    }

    boolean each() {
        return each;
    }

    Activations row(int b) {
        return rows[b];
    }

    /**
     * Copies each vector into its lone form, quantized if a kernel reads Q8_0, where a reader needs them. On this thread:
     * O(n) per row.
     */
    void split(boolean quantize) {
        if (!lone) return;
        for (int b = 0; b < all.batch(); b++) {
            System.arraycopy(all.values, b * n, rows[b].values, 0, n);
            if (quantize) rows[b].quantize();
        }
    }
}
