package dev.herd.engine;

import dev.herd.kernel.Activations;
import dev.herd.kernel.ComputePool;

/**
 * What the components of a layer share while a forward pass runs: the pool, the tokens being run, the normed input
 * {@code xb} each component reads and the {@code out} rows it writes (on a split model this node's partial sum,
 * which the layer loop all-reduces before adding it to the residual stream).
 */
final class Pass {
    final ComputePool pool;
    /** Pieces per pool op: a few per thread, so a thread that starts late (busy machine) leaves its share to the others. */
    final int pieces;
    final Input xb;
    final float[] out;
    /** The tokens being run and where each is in the cache. */
    final Rows rows;
    /** The layer being run, the tokens in the batch. */
    int layer, batch;
    /** The activations {@link #quantizeStep} quantizes: the pool's one op for every component's inputs. */
    private Activations quantizing;
    private final ComputePool.Op quantizeStep = (index, count) -> quantizing.quantize(index, count);

    Pass(ComputePool pool, int pieces, Input xb, float[] out, Rows rows) {
        this.pool = pool;
        this.pieces = pieces;
        this.xb = xb;
        this.out = out;
        this.rows = rows;
    }

    /** Runs {@code op} on every thread of the pool. */
    void run(ComputePool.Op op) {
        pool.run(op, pieces);
    }

    /**
     * Quantizes a matmul input if its kernel reads Q8_0, on the pool, or on this thread for a single token where a
     * barrier costs more than the work; rows of separate sequences also each on their own, for the kernels whose
     * batches round otherwise ({@link dev.herd.kernel.Kernel#rowsExact}).
     */
    void quantize(boolean needed, Input a) {
        if (a.each()) a.split(needed);
        quantize(needed, a.all, batch);
    }

    /** Quantizes {@code rows} rows of {@code a} if needed: on the pool, or on this thread for a single row. */
    void quantize(boolean needed, Activations a, int rows) {
        if (!needed) return;
        if (rows == 1) {
            a.quantize();
            return;
        }
        quantizing = a;
        run(quantizeStep);
    }

    /** {@code v[b * n + r] += bias[r]} for rows [from, to) of every batch row. */
    void addBias(float[] v, int n, float[] bias, int from, int to) {
        for (int b = 0; b < batch; b++) {
            for (int r = from; r < to; r++) v[b * n + r] += bias[r];
        }
    }
}
