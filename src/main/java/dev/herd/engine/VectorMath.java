package dev.herd.engine;

import dev.herd.kernel.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Vector API loops over float arrays (and KV cache segments) for attention and norms, with a scalar tail for odd lengths. */
final class VectorMath {
    private static final VectorSpecies<Float> S = Lanes.F;
    /** KV cache segments hold floats in the machine's order (they never leave it). */
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private VectorMath() {}

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        float sum = 0;
        if (n >= S.length()) {
            FloatVector acc = FloatVector.zero(S);
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
            }
            sum = Lanes.sum(acc);
        }
        for (; i < n; i++) sum += a[ao + i] * b[bo + i];
        return sum;
    }

    /** y += a * x */
    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        if (n >= S.length()) {
            FloatVector va = FloatVector.broadcast(S, a);
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** Dot product of a[ao ..] with n floats of segment b from byte offset bo. */
    static float dot(float[] a, int ao, MemorySegment b, long bo, int n) {
        int i = 0;
        float sum = 0;
        if (n >= S.length()) {
            FloatVector acc = FloatVector.zero(S);
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromMemorySegment(S, b, bo + 4L * i, ORDER), acc);
            }
            sum = Lanes.sum(acc);
        }
        for (; i < n; i++) sum += a[ao + i] * b.get(F32, bo + 4L * i);
        return sum;
    }

    /** y[yo ..] += a * (n floats of segment x from byte offset xo). */
    static void axpy(float a, MemorySegment x, long xo, float[] y, int yo, int n) {
        int i = 0;
        if (n >= S.length()) {
            FloatVector va = FloatVector.broadcast(S, a);
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                FloatVector.fromMemorySegment(S, x, xo + 4L * i, ORDER).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
            }
        }
        for (; i < n; i++) y[yo + i] += a * x.get(F32, xo + 4L * i);
    }

    private static final VectorSpecies<Float> FIXED = FloatVector.SPECIES_128;
    private static final ValueLayout.OfFloat LE = F32.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * A dot product whose rounding is the same on every machine, whatever its vector width: four lanes, products
     * then sums (never fused), the lanes added in order, then the tail. The nodes of a mixture of experts each
     * choose the experts from such sums and must agree on them bit for bit.
     */
    static float fixedDot(float[] a, int ao, MemorySegment b, long bo, int n) {
        FloatVector acc = FloatVector.zero(FIXED);
        int i = 0;
        for (int bound = FIXED.loopBound(n); i < bound; i += FIXED.length()) {
            acc = acc.add(FloatVector.fromArray(FIXED, a, ao + i).mul(FloatVector.fromMemorySegment(FIXED, b, bo + 4L * i, ByteOrder.LITTLE_ENDIAN)));
        }
        float sum = acc.lane(0) + acc.lane(1) + acc.lane(2) + acc.lane(3);
        for (; i < n; i++) sum += a[ao + i] * b.get(LE, bo + 4L * i);
        return sum;
    }

    /** {@link #fixedDot} of two arrays. */
    static float fixedDot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(FIXED);
        int i = 0;
        for (int bound = FIXED.loopBound(n); i < bound; i += FIXED.length()) {
            acc = acc.add(FloatVector.fromArray(FIXED, a, ao + i).mul(FloatVector.fromArray(FIXED, b, bo + i)));
        }
        float sum = acc.lane(0) + acc.lane(1) + acc.lane(2) + acc.lane(3);
        for (; i < n; i++) sum += a[ao + i] * b[bo + i];
        return sum;
    }

    /** out = x / rms(x) * w, over n values (w from index 0). */
    static void rmsNorm(float[] x, int xo, float[] w, float[] out, int oo, int n, float eps) {
        float inv = (float) (1 / Math.sqrt(dot(x, xo, x, xo, n) / n + eps));
        for (int i = 0; i < n; i++) out[oo + i] = x[xo + i] * inv * w[i];
    }

    /**
     * {@link #rmsNorm}, the same on every machine ({@link #fixedDot}): a mixture's router reads it, and every node
     * of a split model must choose the same experts from the same residual stream.
     */
    static void rmsNormFixed(float[] x, int xo, float[] w, float[] out, int oo, int n, float eps) {
        float inv = (float) (1 / Math.sqrt(fixedDot(x, xo, x, xo, n) / n + eps));
        for (int i = 0; i < n; i++) out[oo + i] = x[xo + i] * inv * w[i];
    }

    /** In-place softmax of x[0 .. n). */
    static void softmax(float[] x, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[i]);
        float sum = 0;
        for (int i = 0; i < n; i++) {
            x[i] = (float) Math.exp(x[i] - max);
            sum += x[i];
        }
        float inv = 1 / sum;
        for (int i = 0; i < n; i++) x[i] *= inv;
    }
}
