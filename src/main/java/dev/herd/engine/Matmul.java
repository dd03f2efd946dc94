package dev.herd.engine;

import dev.herd.kernel.Activations;
import dev.herd.kernel.Kernels;
import dev.herd.tensor.Tensor;

/**
 * Row-split matmul through the kernel API. The engine picks the row range itself (rather than calling
 * {@link Kernels#matmul}) so that the same thread can post-process exactly the rows it computed (residual add,
 * SwiGLU) without another barrier. Activations need lengths that are multiples of 32; float models with other
 * sizes (stories260K's hidden 172) get zero-padded activations and a plain loop here, since a kernel may assume
 * {@code x.n == w.cols()}.
 */
final class Matmul {
    private Matmul() {}

    /** First row of thread {@code index}'s share of {@code w}. */
    static int from(Tensor w, int index, int count) {
        return Kernels.split(w, index, count);
    }

    /** Bytes of weights a thread reads for every row of a pass of separate sequences before it moves on: within L2. */
    private static final long TILE_BYTES = 64 << 10;

    /** {@code out[b * w.rows() + r] = dot(w[r], x[b])} for rows [from, to) of piece {@code index} of {@code count}. */
    static void rows(Tensor w, Input x, float[] out, int index, int count) {
        int from = from(w, index, count), to = from(w, index + 1, count);
        if (!x.each() || together(w)) {
            rows(w, x.all, out, 0, from, to);
            return;
        }
        // Each vector alone, a tile of rows at a time: the tile is read from memory once for all of them.
        int tiles = (int) Math.max(1, Math.min(to - from, (to - from) * w.rowBytes() / TILE_BYTES));
        for (int t = 0; t < tiles; t++) {
            int f = from(w, index * tiles + t, count * tiles), e = from(w, index * tiles + t + 1, count * tiles);
            for (int b = 0; b < x.all.batch(); b++) rows(w, x.row(b), out, b * w.rows(), f, e);
        }
    }

    /** Whether rows of separate sequences go through {@code w} as one batch: its kernel's batches are exact. */
    static boolean together(Tensor w) {
        return Kernels.of(w.type()).rowsExact();
    }

    /** {@code out[base + b * w.rows() + r] = dot(w[r], x[b])} for rows [from, to). */
    static void rows(Tensor w, Activations x, float[] out, int base, int from, int to) {
        if (from >= to) return;
        if (x.n == w.cols()) {
            Kernels.of(w.type()).matmul(w, x, out, base + from, w.rows(), from, to);
            return;
        }
        float[] row = new float[w.cols()]; // rare path (tiny odd-sized models only)
        for (int r = from; r < to; r++) {
            Dequant.row(w, r, row, 0);
            for (int b = 0; b < x.batch(); b++) out[base + b * w.rows() + r] = VectorMath.dot(row, 0, x.values, b * x.n, row.length);
        }
    }

    /** Whether {@link #rows} will read the Q8_0 form of activations of (padded) length {@code n}. */
    static boolean needsQuantized(Tensor w, int n) {
        return n == w.cols() && Kernels.of(w.type()).needsQuantized();
    }

    /** Whether {@link #rows} will read the Q8_0 form of activations of length {@code n} (padded here). */
    static boolean needsQ8(Tensor w, int n) {
        return needsQuantized(w, padded(n));
    }

    /** Activations for vectors of length n, zero-padded to a multiple of 32. */
    static Activations activations(int n, int batch) {
        return new Activations(padded(n), batch);
    }

    static int padded(int n) {
        return (n + Activations.BLOCK - 1) / Activations.BLOCK * Activations.BLOCK;
    }
}
