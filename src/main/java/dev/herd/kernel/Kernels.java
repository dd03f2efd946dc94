package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** The kernel for each supported weight type, and the parallel matmul that splits rows across a pool. */
public final class Kernels {
    private Kernels() {}

    static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static Kernel of(GgmlType type) {
        return switch (type) {
            case F32 -> SCALAR_F32;
            case F16 -> SCALAR_F16;
            case BF16 -> SCALAR_BF16;
            case Q8_0 -> SCALAR_Q8_0;
            case Q4_0 -> SCALAR_Q4_0;
            default -> throw new IllegalArgumentException("no kernel for " + type);
        };
    }

    /** This thread's share of {@code out = w x}, rows split evenly across the pool's threads. */
    public static void matmul(Tensor w, Activations x, float[] out, int index, int count) {
        int from = ComputePool.start(w.rows(), index, count), to = ComputePool.start(w.rows(), index + 1, count);
        if (from < to) of(w.type()).matmul(w, x, out, from, w.rows(), from, to);
    }

    private abstract static class Scalar implements Kernel {
        abstract float weight(MemorySegment row, int i);

        @Override
        public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
            for (int r = rowFrom; r < rowTo; r++) {
                MemorySegment row = w.data().asSlice(r * w.rowBytes(), w.rowBytes());
                for (int b = 0; b < x.batch; b++) {
                    float sum = 0;
                    for (int i = 0; i < w.cols(); i++) sum += weight(row, i) * x.values[b * x.n + i];
                    out[b * outStride + outOffset + r - rowFrom] = sum;
                }
            }
        }

        @Override
        public boolean needsQuantized() {
            return false;
        }
    }

    static final Kernel SCALAR_F32 = new Scalar() {
        float weight(MemorySegment row, int i) {
            return row.getAtIndex(F32, i);
        }
    };
    static final Kernel SCALAR_F16 = new Scalar() {
        float weight(MemorySegment row, int i) {
            return Float.float16ToFloat(row.getAtIndex(F16, i));
        }
    };
    static final Kernel SCALAR_BF16 = new Scalar() {
        float weight(MemorySegment row, int i) {
            return Float.intBitsToFloat(row.getAtIndex(F16, i) << 16);
        }
    };
    static final Kernel SCALAR_Q8_0 = new Scalar() {
        float weight(MemorySegment row, int i) {
            long block = i / 32 * 34L;
            return Float.float16ToFloat(row.get(F16, block)) * row.get(ValueLayout.JAVA_BYTE, block + 2 + i % 32);
        }
    };
    static final Kernel SCALAR_Q4_0 = new Scalar() {
        float weight(MemorySegment row, int i) {
            long block = i / 32 * 18L;
            int j = i % 32;
            int packed = row.get(ValueLayout.JAVA_BYTE, block + 2 + (j & 15)) & 0xff;
            int nibble = j < 16 ? packed & 15 : packed >>> 4;
            return Float.float16ToFloat(row.get(F16, block)) * (nibble - 8);
        }
    };
}
