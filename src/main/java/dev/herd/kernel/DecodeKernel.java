package dev.herd.kernel;

import dev.herd.codec.Codec;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

/**
 * The generic kernel of any type with a {@link Codec}: each row is decoded to floats (exactly as ggml decodes it), then
 * multiplied with the float activations at the machine's vector width. Correct for every type, not fast: the types
 * that have integer kernels ({@link Q4Kernel}, {@link Q8Kernel}) do not come here.
 */
final class DecodeKernel extends RowKernel {
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    private final Codec codec;

    DecodeKernel(Codec codec) {
        this.codec = codec;
    }

    @Override
    float dot(MemorySegment w, long offset, int cols, Activations x) {
        float[] row = ROW.get();
        if (row.length < cols) ROW.set(row = new float[cols]);
        codec.decode(w, offset, row, 0, cols);
        float[] v = x.values;
        int l = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int i = 0; i < cols; i += 2 * l) { // rows are multiples of 32 values, so of 2 * l at every width
            a0 = FloatVector.fromArray(F, row, i).fma(FloatVector.fromArray(F, v, i), a0);
            a1 = FloatVector.fromArray(F, row, i + l).fma(FloatVector.fromArray(F, v, i + l), a1);
        }
        return Lanes.sum(a0.add(a1));
    }

    @Override
    void expand(MemorySegment w, long offset, int cols, float[] dst, int at) {
        codec.decode(w, offset, dst, at, cols);
    }

    @Override
    public boolean needsQuantized() {
        return false;
    }
}
