package dev.herd.engine;

import dev.herd.kernel.Kernels;
import dev.herd.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Converts weight rows of any supported type to floats: token embeddings, norm weights, and the odd-size matmul. */
final class Dequant {
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Dequant() {}

    /** Writes row {@code r} of {@code t} to {@code out[off ..]}. */
    static void row(Tensor t, int r, float[] out, int off) {
        MemorySegment data = t.data();
        long row = r * t.rowBytes();
        int n = t.cols();
        switch (t.type()) {
            case F32 -> MemorySegment.copy(data, F32, row, out, off, n);
            case F16 -> { for (int i = 0; i < n; i++) out[off + i] = Float.float16ToFloat(data.get(F16, row + 2L * i)); }
            case BF16 -> { for (int i = 0; i < n; i++) out[off + i] = Float.intBitsToFloat(data.get(F16, row + 2L * i) << 16); }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long at = row + b * 34L;
                    float d = Float.float16ToFloat(data.get(F16, at));
                    for (int i = 0; i < 32; i++) out[off + b * 32 + i] = d * data.get(ValueLayout.JAVA_BYTE, at + 2 + i);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long at = row + b * 18L;
                    float d = Float.float16ToFloat(data.get(F16, at));
                    for (int i = 0; i < 16; i++) {
                        int packed = data.get(ValueLayout.JAVA_BYTE, at + 2 + i) & 0xff;
                        out[off + b * 32 + i] = d * ((packed & 15) - 8);
                        out[off + b * 32 + i + 16] = d * ((packed >>> 4) - 8);
                    }
                }
            }
            case Q4_0_INTERLEAVED, Q8_0_INTERLEAVED -> { for (int i = 0; i < n; i++) out[off + i] = Kernels.get(t, r, i); }
            default -> throw new IllegalArgumentException("cannot dequantize " + t.type());
        }
    }

    /** A whole (small) tensor as floats, e.g. a norm weight vector. */
    static float[] all(Tensor t) {
        float[] out = new float[(int) t.size()];
        for (int r = 0; r < t.rows(); r++) row(t, r, out, r * t.cols());
        return out;
    }
}
