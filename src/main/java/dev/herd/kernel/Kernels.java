package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Collection;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The kernel for each supported weight type, and the parallel matmul that splits rows across a pool. */
public final class Kernels {
    private Kernels() {}

    static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final Kernel Q4_0 = new Q4Kernel();
    private static final Kernel Q4_0_R8 = new Q4x8Kernel();
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
            case Q4_0_R8 -> Q4_0_R8;
            default -> throw new IllegalArgumentException("no kernel for " + type);
        };
    }

    /** This thread's share of {@code out = w x}, rows split evenly across the pool's threads. */
    public static void matmul(Tensor w, Activations x, float[] out, int index, int count) {
        int from = split(w, index, count), to = split(w, index + 1, count);
        if (from < to) of(w.type()).matmul(w, x, out, from, w.rows(), from, to);
    }

    /** First row of share {@code index} of {@code count}: even shares, on the 8-row groups of interleaved types. */
    public static int split(Tensor w, int index, int count) {
        if (w.type() != GgmlType.Q4_0_R8) return ComputePool.start(w.rows(), index, count);
        return Q4x8Kernel.ROWS * ComputePool.start(w.rows() / Q4x8Kernel.ROWS, index, count);
    }

    private static final Set<GgmlType> WARM = ConcurrentHashMap.newKeySet();

    /**
     * Runs the kernel of each type (batch 1 and a batch with a remainder) on a small random matrix a few thousand
     * times, once per JVM and type, so that C2 compiles it before the first prompt. Until then the Vector API runs
     * interpreted or in C1 code that allocates every vector: the first prompt of a 1B model took ~4 s longer.
     */
    public static void warmUp(Collection<GgmlType> types) {
        for (GgmlType type : types) {
            if (!WARM.add(type)) continue;
            int rows = 16, cols = 512;
            GgmlType file = type == GgmlType.Q4_0_R8 ? GgmlType.Q4_0 : type;
            MemorySegment data = Arena.ofAuto().allocate(rows * file.bytes(cols), 64);
            Random rnd = new Random(1);
            for (long i = 0; i < data.byteSize(); i++) data.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(255));
            for (long at = 0; file.quantized() && at < data.byteSize(); at += file.blockBytes) data.set(F16, at, (short) 0x2000);
            if (!file.quantized()) data.fill((byte) 0);
            Tensor w = new Tensor("warm-up", file, rows, cols, data);
            if (type == GgmlType.Q4_0_R8) w = prepare(w);
            Kernel kernel = of(type);
            Activations one = new Activations(cols, 1), many = new Activations(cols, 12);
            many.batch(12);
            float[] out = new float[rows * 12];
            for (int i = 0; i < 3000; i++) {
                Activations x = i % 2 == 0 ? one : many;
                x.values[i % x.values.length] = rnd.nextFloat();
                if (kernel.needsQuantized()) x.quantize();
                kernel.matmul(w, x, out, 0, rows, 0, rows);
            }
        }
    }

    /** Element (row, col) of a tensor in a kernel's own layout (slow; for tests and the odd single row). */
    public static float get(Tensor w, int row, int col) {
        if (w.type() != GgmlType.Q4_0_R8) throw new IllegalArgumentException("not a kernel layout: " + w.type());
        return Q4x8Kernel.get(w, row, col);
    }

    /**
     * {@code w} in the fastest layout for its kernel: Q4_0 matrices with rows in eights become {@link
     * GgmlType#Q4_0_R8}, anything else is returned as it is. Writable memory is rewritten in place (the caller owns
     * it); read-only memory (a mapped model file) is copied, and the file's pages are then released from this
     * process (they stay in the OS page cache) so that the model is not resident twice.
     */
    public static Tensor prepare(Tensor w) {
        if (w.type() != GgmlType.Q4_0 || w.rows() % Q4x8Kernel.ROWS != 0) return w;
        if (!w.data().isReadOnly()) return Q4x8Kernel.repack(w, w.data());
        Tensor copy = Q4x8Kernel.repack(w, Arena.ofAuto().allocate(w.data().byteSize(), 64));
        Pages.release(w.data());
        return copy;
    }
}
