package dev.herd.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums a vector's lanes in one fixed order. The Vector API leaves the order of a float ADD reduction unspecified,
 * and interpreted and compiled code do differ; with Q8_0 activations a last-bit difference can flip a rounding and
 * change a sampled token, so the same seed would not always give the same text. Lane-wise adds are exact IEEE
 * operations in every mode, so halving with rotations is reproducible (and as fast as reduceLanes). Only vectors of
 * {@link #F} come here: one shape per call site keeps C2's code for it vector code.
 *
 * <p>A rule for every kernel: each vector comes from an operation given its species ({@code reinterpretShape(F, 0)},
 * {@code convertShape(I2F, F, 0)}), never from {@code reinterpretAsFloats()} or {@code convert(I2F, 0)}. Those leave
 * the result's class to the type profiles of the JDK's vector methods, which every shape in the JVM shares; once a
 * profile has seen another shape (the kernels use half-width species too) and that bytecode's speculative traps are
 * used up, C2 compiles a second path that passes the vector to a call, and boxes it on every call of the kernel (the
 * Q4_K and Q5_K kernels at 512 bits, in 2 of 4 runs of KernelAllocationTest; docs/performance.md). Helper methods that
 * take or return vectors stay out of the kernels for a like reason: past C2's node budget (NodeCountInliningCutoff)
 * they stay calls, and their vectors are boxed.
 */
public final class Lanes {
    /** Floats of the width in use. */
    public static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorWidth.SHAPE);
    private static final VectorShuffle<Float> ROT8 = VectorShuffle.iota(F, 8, 1, true);
    private static final VectorShuffle<Float> ROT4 = VectorShuffle.iota(F, 4, 1, true);
    private static final VectorShuffle<Float> ROT2 = VectorShuffle.iota(F, 2, 1, true);
    private static final VectorShuffle<Float> ROT1 = VectorShuffle.iota(F, 1, 1, true);
    /** Floats of the width in use, at most 256 bits: for kernels whose data comes in 128-bit pieces. */
    static final VectorSpecies<Float> NARROW = VectorSpecies.of(float.class, VectorShape.forBitSize(Math.min(VectorWidth.BITS, 256)));
    private static final VectorShuffle<Float> NARROW4 = VectorShuffle.iota(NARROW, 4, 1, true);
    private static final VectorShuffle<Float> NARROW2 = VectorShuffle.iota(NARROW, 2, 1, true);
    private static final VectorShuffle<Float> NARROW1 = VectorShuffle.iota(NARROW, 1, 1, true);

    private Lanes() {}

    public static float sum(FloatVector v) {
        if (F.length() >= 16) v = v.add(v.rearrange(ROT8));
        if (F.length() >= 8) v = v.add(v.rearrange(ROT4));
        v = v.add(v.rearrange(ROT2));
        return v.add(v.rearrange(ROT1)).lane(0);
    }

    /**
     * {@link #sum} of the {@code F.length()} floats at {@code from} in {@code a}, added in the same order (the lanes
     * lane 0 sees when halving with rotations), for call sites with many vectors to reduce: inlining eight vector
     * sums into one method exceeds C2's node budget at 512 bits, and a vector passed to a call that is not inlined
     * is boxed.
     */
    public static float sum(float[] a, int from) {
        for (int half = F.length() / 2; half >= 1; half /= 2) {
            for (int i = 0; i < half; i++) a[from + i] += a[from + i + half];
        }
        return a[from];
    }

    /** {@link #sum} for vectors of {@link #NARROW}. */
    static float sumNarrow(FloatVector v) {
        if (NARROW.length() >= 8) v = v.add(v.rearrange(NARROW4));
        v = v.add(v.rearrange(NARROW2));
        return v.add(v.rearrange(NARROW1)).lane(0);
    }
}
