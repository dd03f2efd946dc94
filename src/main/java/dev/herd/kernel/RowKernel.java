package dev.herd.kernel;

import dev.herd.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.ADD;

/**
 * A kernel built from two per-row operations of one weight type: {@link #dot} of a row with the first activation
 * vector (batch 1, the decoding case), and {@link #expand} of a row to floats. For a batch, each pair of rows is
 * expanded once into a small float buffer, which then meets every batch vector in a 2 x 4 register-blocked float
 * loop (vectors of the machine's width): the weights are read once per batch, and the per-block decoding and scaling costs are paid once, not once
 * per vector. Quantized kernels use the Q8_0-rounded activations there too, so batch 1 and batches compute the same
 * products and differ only in float rounding.
 */
abstract class RowKernel implements Kernel {
    static final VectorSpecies<Float> F = Lanes.F;

    /** Per-thread float buffers: two expanded rows, and eight accumulators to reduce. */
    private static final ThreadLocal<float[][]> ROWS = ThreadLocal.withInitial(() -> new float[][]{new float[0], new float[8 * F.length()]});

    /** Dot product of the row at byte {@code offset} of {@code w} with the first vector of {@code x}. */
    abstract float dot(MemorySegment w, long offset, int cols, Activations x);

    /** Writes the row at byte {@code offset} of {@code w} as {@code cols} floats into {@code dst} from {@code at}. */
    abstract void expand(MemorySegment w, long offset, int cols, float[] dst, int at);

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        if (w.cols() != x.n) throw new IllegalArgumentException(w.name() + ": " + w.cols() + " columns, vectors of " + x.n);
        MemorySegment data = w.data();
        long rowBytes = w.rowBytes();
        if (x.batch == 1) {
            for (int r = rowFrom; r < rowTo; r++) out[outOffset + r - rowFrom] = dot(data, r * rowBytes, w.cols(), x);
        } else {
            matmulBatch(data, rowBytes, x, needsQuantized() ? x.dequantized : x.values, out, outOffset, outStride, rowFrom, rowTo);
        }
    }

    private void matmulBatch(MemorySegment w, long rowBytes, Activations x, float[] xs, float[] out, int outOffset,
                             int outStride, int rowFrom, int rowTo) {
        int cols = x.n;
        float[] rows = buffer(2 * cols), sums = ROWS.get()[1];
        for (int r = rowFrom; r < rowTo; r += 2) {
            int next = Math.min(r + 1, rowTo - 1); // an odd last row is computed twice, written twice alike
            expand(w, r * rowBytes, cols, rows, 0);
            expand(w, next * rowBytes, cols, rows, cols);
            int o0 = outOffset + r - rowFrom, o1 = outOffset + next - rowFrom;
            int b = 0;
            for (; b + 4 <= x.batch; b += 4) dot2x4(rows, cols, xs, b * cols, sums, out, b * outStride, outStride, o0, o1);
            for (; b < x.batch; b++) dot2x1(rows, cols, xs, b * cols, sums, out, b * outStride, o0, o1);
        }
    }

    private static float[] buffer(int size) {
        float[][] buffers = ROWS.get();
        if (buffers[0].length < size) buffers[0] = new float[size];
        return buffers[0];
    }

    /**
     * Two rows (at 0 and cols) times four vectors (at x0 + k * cols): eight accumulators, six loads per 8 FMAs,
     * reduced through {@code sums}.
     */
    private static void dot2x4(float[] rows, int cols, float[] xs, int x0, float[] sums, float[] out, int out0, int stride, int o0, int o1) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int i = 0; i < cols; i += F.length()) {
            FloatVector r0 = FloatVector.fromArray(F, rows, i), r1 = FloatVector.fromArray(F, rows, cols + i);
            FloatVector v = FloatVector.fromArray(F, xs, x0 + i);
            a0 = r0.fma(v, a0);
            b0 = r1.fma(v, b0);
            v = FloatVector.fromArray(F, xs, x0 + cols + i);
            a1 = r0.fma(v, a1);
            b1 = r1.fma(v, b1);
            v = FloatVector.fromArray(F, xs, x0 + 2 * cols + i);
            a2 = r0.fma(v, a2);
            b2 = r1.fma(v, b2);
            v = FloatVector.fromArray(F, xs, x0 + 3 * cols + i);
            a3 = r0.fma(v, a3);
            b3 = r1.fma(v, b3);
        }
        int l = F.length();
        a0.intoArray(sums, 0);
        b0.intoArray(sums, l);
        a1.intoArray(sums, 2 * l);
        b1.intoArray(sums, 3 * l);
        a2.intoArray(sums, 4 * l);
        b2.intoArray(sums, 5 * l);
        a3.intoArray(sums, 6 * l);
        b3.intoArray(sums, 7 * l);
        out[out0 + o0] = Lanes.sum(sums, 0);
        out[out0 + o1] = Lanes.sum(sums, l);
        out[out0 + stride + o0] = Lanes.sum(sums, 2 * l);
        out[out0 + stride + o1] = Lanes.sum(sums, 3 * l);
        out[out0 + 2 * stride + o0] = Lanes.sum(sums, 4 * l);
        out[out0 + 2 * stride + o1] = Lanes.sum(sums, 5 * l);
        out[out0 + 3 * stride + o0] = Lanes.sum(sums, 6 * l);
        out[out0 + 3 * stride + o1] = Lanes.sum(sums, 7 * l);
    }

    /** Two rows times one vector, reduced through {@code sums} as {@link #dot2x4}'s are. */
    private static void dot2x1(float[] rows, int cols, float[] xs, int x0, float[] sums, float[] out, int out0, int o0, int o1) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, b0 = a0, b1 = a0;
        for (int i = 0; i < cols; i += 2 * F.length()) {
            FloatVector v = FloatVector.fromArray(F, xs, x0 + i), u = FloatVector.fromArray(F, xs, x0 + i + F.length());
            a0 = FloatVector.fromArray(F, rows, i).fma(v, a0);
            a1 = FloatVector.fromArray(F, rows, i + F.length()).fma(u, a1);
            b0 = FloatVector.fromArray(F, rows, cols + i).fma(v, b0);
            b1 = FloatVector.fromArray(F, rows, cols + i + F.length()).fma(u, b1);
        }
        int l = F.length();
        a0.add(a1).intoArray(sums, 0);
        b0.add(b1).intoArray(sums, l);
        out[out0 + o0] = Lanes.sum(sums, 0);
        out[out0 + o1] = Lanes.sum(sums, l);
    }
}
