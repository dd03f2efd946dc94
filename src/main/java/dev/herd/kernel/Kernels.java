package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** The kernel for each supported weight type, and the parallel matmul that splits rows across a pool. */
public final class Kernels {
    private Kernels() {}

    static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final Kernel Q4_0 = new Q4Kernel();
    private static final Kernel Q8_0 = new Q8Kernel();
    private static final Kernel F32_KERNEL = new FloatKernels.F32();
    private static final Kernel F16_KERNEL = new FloatKernels.F16();
    private static final Kernel BF16_KERNEL = new FloatKernels.BF16();

    public static Kernel of(GgmlType type) {
        return switch (type) {
            case F32 -> F32_KERNEL;
            case F16 -> F16_KERNEL;
            case BF16 -> BF16_KERNEL;
            case Q8_0 -> Q8_0;
            case Q4_0 -> Q4_0;
            default -> throw new IllegalArgumentException("no kernel for " + type);
        };
    }

    /** This thread's share of {@code out = w x}, rows split evenly across the pool's threads. */
    public static void matmul(Tensor w, Activations x, float[] out, int index, int count) {
        int from = ComputePool.start(w.rows(), index, count), to = ComputePool.start(w.rows(), index + 1, count);
        if (from < to) of(w.type()).matmul(w, x, out, from, w.rows(), from, to);
    }
}
