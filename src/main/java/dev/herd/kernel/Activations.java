package dev.herd.kernel;

/**
 * The input of a matrix multiplication: {@code batch} vectors of {@code n} floats. For quantized weights the
 * vectors are quantized once to Q8_0 blocks (int8 values, kept widened to int16 so kernels load them directly, and one
 * float scale per 32 values); every weight row then reuses them.
 */
public final class Activations {
    public static final int BLOCK = 32;

    public final int n;
    public final int capacity;
    /** batch x n floats, row-major. */
    public final float[] values;
    /** Q8_0 values of {@link #values}, valid after {@link #quantize}. */
    final short[] q;
    /** One scale per block of 32 values. */
    final float[] scales;
    /** q times its scale, for batches: batched kernels multiply floats (see {@link RowKernel}). Valid if batch > 1. */
    final float[] dequantized;
    int batch = 1;

    public Activations(int n, int capacity) {
        if (n % BLOCK != 0) throw new IllegalArgumentException("vector length " + n + " is not a multiple of " + BLOCK);
        this.n = n;
        this.capacity = capacity;
        this.values = new float[n * capacity];
        this.q = new short[n * capacity];
        this.scales = new float[n / BLOCK * capacity];
        this.dequantized = new float[capacity > 1 ? n * capacity : 0];
    }

    public int batch() {
        return batch;
    }

    public void batch(int batch) {
        if (batch < 1 || batch > capacity) throw new IllegalArgumentException("batch " + batch + " outside 1.." + capacity);
        this.batch = batch;
    }

    /** Quantizes this thread's share of the blocks of all batch vectors to Q8_0 (round half away from zero, as ggml). */
    public void quantize(int index, int count) {
        int blocks = batch * n / BLOCK;
        int from = ComputePool.start(blocks, index, count), to = ComputePool.start(blocks, index + 1, count);
        Quant.quantizeQ8(values, q, scales, from, to);
        if (batch > 1) {
            for (int i = from * BLOCK; i < to * BLOCK; i++) dequantized[i] = q[i] * scales[i / BLOCK];
        }
    }

    public void quantize() {
        quantize(0, 1);
    }
}
