package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

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
    /*
     * The layouts of the interleaved kernels ({@link InterleavedKernel}), filled by quantize only once a matrix of such
     * a type reads these activations ({@link #readBy}); null before.
     *
     * pairs (Q8_0, Q6_K, Q5_K): for batch 1, each pair of consecutive values of q as one int (first value in the low half):
     * broadcast to every int lane, it meets the 16-bit lane pair of every row of a group. (Pairs repeated once per row
     * in memory took ROWS times as much: 64 KiB per 2048 values at 512 bits, read from L2 for every group.)
     * nibblePairs (Q4_0, Q4_K): the pairs in the order the kernel reads a block's eight pieces, (2c, 2c+1) then
     * (2c+16, 2c+17). sums8 (Q4_0, Q4_K, Q5_K): eight times the sum of q over each block, to add back the nibbles'
     * offset of 8, or the blocks' minima. halfSums (Q3_K): the sums of q over each block's two halves, for the minima of
     * 16-value sub-blocks.
     * interleaved: for batches, the dequantized values with vectors interleaved in eights: value i of vector b at
     * ((b / 8 * n) + i) * 8 + b % 8, so that one index walks eight vectors at once. A last group of fewer than 8
     * vectors is padded with stale or zero values whose results nobody reads.
     */
    int[] pairs;
    int[] nibblePairs;
    /**
     * For batches read by {@link IntBatch#nibbles} (Q4_0, Q4_K, Q4_1): the nibble pairs of vectors in fours, interleaved so one index
     * walks four vectors: pair j of vector b at ((b / 4) * (n / 2) + j) * 4 + b % 4. A last four of fewer vectors holds
     * stale or zero values whose results nobody reads.
     */
    int[] nibbleQuads;
    /** The same for {@link #pairs}, for batches read by {@link IntBatch#bytes} (Q6_K). */
    int[] pairQuads;
    int[] sums8;
    int[] halfSums;
    float[] interleaved;
    int batch = 1;
    /**
     * Whether the values are rounded per 256 (ggml's Q8_K, what it multiplies K-quant and IQ4_XS weights by) rather
     * than per 32 (Q8_0): so when every quantized matrix that reads these activations is of such a type (then the
     * rounding is the same as llama.cpp's). The scale is then repeated in each 32-value block's slot.
     */
    private boolean superBlocks;
    private int kReaders, otherReaders;

    public Activations(int n, int capacity) {
        if (n % BLOCK != 0) throw new IllegalArgumentException("vector length " + n + " is not a multiple of " + BLOCK);
        this.n = n;
        this.capacity = capacity;
        this.values = new float[n * capacity];
        this.q = new short[n * capacity];
        this.scales = new float[n / BLOCK * ((capacity + 3) / 4 * 4)]; // batches run in fours: see nibbleQuads
        this.dequantized = new float[capacity > 1 ? n * capacity : 0];
    }

    /** Makes quantize fill what a matmul with {@code w} reads (the layouts of the interleaved types). */
    public void readBy(Tensor w) {
        GgmlType t = w.type();
        switch (t) {
            case Q4_K_INTERLEAVED, Q5_K_INTERLEAVED, Q6_K_INTERLEAVED, Q3_K_INTERLEAVED -> kReaders++;
            case F32, F16, BF16 -> { }
            default -> otherReaders++;
        }
        superBlocks = kReaders > 0 && otherReaders == 0 && n % Quant.SUPER == 0;
        if (!Kernels.interleaved(t)) return;
        boolean nibbles = t == GgmlType.Q4_0_INTERLEAVED || t == GgmlType.Q4_K_INTERLEAVED || t == GgmlType.Q4_1_INTERLEAVED
                || t == GgmlType.Q3_K_INTERLEAVED;
        if (nibbles && nibblePairs == null) nibblePairs = new int[n / 2];
        boolean nibbleQuad = t == GgmlType.Q4_0_INTERLEAVED || t == GgmlType.Q4_K_INTERLEAVED || t == GgmlType.Q4_1_INTERLEAVED;
        boolean pairQuad = t == GgmlType.Q6_K_INTERLEAVED, quads = nibbleQuad || pairQuad;
        if (nibbleQuad && capacity > 1 && nibbleQuads == null) nibbleQuads = new int[(capacity + 3) / 4 * 4 * n / 2];
        if (pairQuad && capacity > 1 && pairQuads == null) pairQuads = new int[(capacity + 3) / 4 * 4 * n / 2];
        if (!nibbles && pairs == null) pairs = new int[n / 2];
        boolean sums = t == GgmlType.Q4_0_INTERLEAVED || t == GgmlType.Q4_K_INTERLEAVED || t == GgmlType.Q4_1_INTERLEAVED
                || t == GgmlType.Q5_K_INTERLEAVED || t == GgmlType.Q5_1_INTERLEAVED;
        if (sums && sums8 == null) sums8 = new int[(capacity + 3) / 4 * 4 * n / BLOCK];
        if (t == GgmlType.Q3_K_INTERLEAVED && halfSums == null) halfSums = new int[2 * n / BLOCK];
        if (!quads && interleaved == null) interleaved = new float[capacity > 1 ? n * (capacity + 7) / 8 * 8 : 0];
    }

    public int batch() {
        return batch;
    }

    public void batch(int batch) {
        if (batch < 1 || batch > capacity) throw new IllegalArgumentException("batch " + batch + " outside 1.." + capacity);
        this.batch = batch;
    }

    /**
     * Quantizes this thread's share of the blocks of all batch vectors to Q8_0 (round half away from zero, as ggml), or
     * to Q8_K where {@link #superBlocks} (a share of whole super-blocks).
     */
    public void quantize(int index, int count) {
        int from, to;
        if (superBlocks) {
            int supers = batch * n / Quant.SUPER, per = Quant.SUPER / BLOCK;
            int first = ComputePool.start(supers, index, count), last = ComputePool.start(supers, index + 1, count);
            Quant.quantizeQ8K(values, q, scales, first, last);
            from = first * per;
            to = last * per;
        } else {
            int blocks = batch * n / BLOCK;
            from = ComputePool.start(blocks, index, count);
            to = ComputePool.start(blocks, index + 1, count);
            Quant.quantizeQ8(values, q, scales, from, to);
        }
        if (batch > 1) {
            for (int blk = from; blk < to; blk++) {
                int first = blk * BLOCK, b = first / n, at = (b / 8 * n + first - b * n) * 8 + b % 8;
                float scale = scales[blk];
                for (int i = 0; i < BLOCK; i++) {
                    float v = q[first + i] * scale;
                    dequantized[first + i] = v;
                    if (interleaved != null) interleaved[at + 8 * i] = v;
                }
            }
        }
        if (sums8 != null) {
            for (int b = from; b < to; b++) {
                int sum = 0;
                for (int i = b * BLOCK; i < (b + 1) * BLOCK; i++) sum += q[i];
                sums8[b] = 8 * sum;
            }
        }
        if (batch == 1) {
            if (pairs != null) {
                for (int b = from; b < to; b++) pairs(b, pairs, b * 16, 1);
            }
            if (halfSums != null) {
                for (int h = 2 * from; h < 2 * to; h++) {
                    int sum = 0;
                    for (int i = h * BLOCK / 2; i < (h + 1) * BLOCK / 2; i++) sum += q[i];
                    halfSums[h] = sum;
                }
            }
            if (nibblePairs != null) {
                for (int b = from; b < to; b++) nibblePairs(b, nibblePairs, b * 16, 1);
            }
        } else {
            for (int b = from; b < to; b++) {
                if (pairQuads != null) pairs(b, pairQuads, quadAt(b), 4);
                if (nibbleQuads != null) nibblePairs(b, nibbleQuads, quadAt(b), 4);
            }
        }
    }

    /** Where the first pair of block blk (of all vectors) goes in a layout of fours (see {@link #nibbleQuads}). */
    private int quadAt(int blk) {
        int v = blk * BLOCK / n, j = (blk * BLOCK - v * n) / 2;
        return ((v / 4) * (n / 2) + j) * 4 + v % 4;
    }

    /** Block blk's 16 pairs of consecutive values, pair k at dst[at + step * k]. */
    private void pairs(int blk, int[] dst, int at, int step) {
        int first = blk * BLOCK;
        for (int k = 0; k < 16; k++) dst[at + step * k] = pair(q[first + 2 * k], q[first + 2 * k + 1]);
    }

    /**
     * Block blk's 16 pairs in the order a nibble kernel reads its eight pieces, pair k at dst[at + step * k]: for piece c
     * the pair (2c, 2c+1), then the pair (2c+16, 2c+17).
     */
    private void nibblePairs(int blk, int[] dst, int at, int step) {
        int first = blk * BLOCK;
        for (int c = 0; c < 8; c++) {
            dst[at + step * 2 * c] = pair(q[first + 2 * c], q[first + 2 * c + 1]);
            dst[at + step * (2 * c + 1)] = pair(q[first + 2 * c + 16], q[first + 2 * c + 17]);
        }
    }

    private static int pair(short first, short second) {
        return (first & 0xffff) | second << 16;
    }

    public void quantize() {
        quantize(0, 1);
    }
}
