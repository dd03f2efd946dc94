package dev.herd.kernel;

import dev.herd.codec.Codecs;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.Set;

/** The scalar reference: every weight dequantized on its own, products summed in double. */
final class Oracle {
    private Oracle() {}

    /** The types whose weights come from their codec, checked against ggml's own outputs in CodecTest. */
    private static final Set<GgmlType> CODEC = EnumSet.of(GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K,
            GgmlType.Q5_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS);

    static float weight(Tensor w, int r, int i) {
        MemorySegment row = w.data().asSlice(r * w.rowBytes(), w.rowBytes());
        return switch (w.type()) {
            case F32 -> row.getAtIndex(Kernels.F32, i);
            case F16 -> Float.float16ToFloat(row.getAtIndex(Kernels.F16, i));
            case BF16 -> Float.intBitsToFloat(row.getAtIndex(Kernels.F16, i) << 16);
            case Q8_0 -> {
                long block = i / 32 * 34L;
                yield Float.float16ToFloat(row.get(Kernels.F16, block)) * row.get(ValueLayout.JAVA_BYTE, block + 2 + i % 32);
            }
            case Q4_0 -> {
                long block = i / 32 * 18L;
                int j = i % 32;
                int packed = row.get(ValueLayout.JAVA_BYTE, block + 2 + (j & 15)) & 0xff;
                int nibble = j < 16 ? packed & 15 : packed >>> 4;
                yield Float.float16ToFloat(row.get(Kernels.F16, block)) * (nibble - 8);
            }
            case Q6_K -> {
                // ggml's dequantize_row_q6_K for one value: in each half of 128, value l + 32k has its low nibble in
                // ql[l + 32 (k odd)] (high nibble for k >= 2), its high pair at bits 2k of qh[l], scale sc[l / 16 + 2k].
                long block = i / 256 * 210L;
                int half = i % 256 / 128, l = i % 32, k = i % 128 / 32;
                int ql = row.get(ValueLayout.JAVA_BYTE, block + 64 * half + l + 32 * (k % 2)) & 0xff;
                int qh = row.get(ValueLayout.JAVA_BYTE, block + 128 + 32 * half + l) & 0xff;
                int q = (k < 2 ? ql & 15 : ql >>> 4) | (qh >>> 2 * k & 3) << 4;
                byte scale = row.get(ValueLayout.JAVA_BYTE, block + 192 + 8 * half + l / 16 + 2 * k);
                yield Float.float16ToFloat(row.get(Kernels.F16, block + 208)) * scale * (q - 32);
            }
            case Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, IQ4_NL, IQ4_XS -> { // the codec (CODEC), checked against ggml's own outputs in CodecTest
                int size = w.type().blockSize;
                float[] block = new float[size];
                Codecs.of(w.type()).decodeBlock(row, (long) i / size * w.type().blockBytes, block, 0);
                yield block[i % size];
            }
            default -> throw new IllegalArgumentException(w.type().toString());
        };
    }

    /** The activation a kernel of this weight type multiplies: Q8_0-rounded for quantized weights. */
    static float input(Tensor w, Activations x, int b, int i) {
        int k = b * x.n + i;
        return w.type().quantized() ? x.q[k] * x.scales[k / Activations.BLOCK] : x.values[k];
    }

    static double dot(Tensor w, int r, Activations x, int b) {
        float[] row = row(w, r);
        double sum = 0;
        for (int i = 0; i < w.cols(); i++) sum += (double) row[i] * input(w, x, b, i);
        return sum;
    }

    /** Sum of |w_i x_i|: float rounding errors of a dot product scale with it, not with the result. */
    static double magnitude(Tensor w, int r, Activations x, int b) {
        float[] row = row(w, r);
        double sum = 0;
        for (int i = 0; i < w.cols(); i++) sum += Math.abs((double) row[i] * input(w, x, b, i));
        return sum;
    }

    /** Row r's weights, each block decoded once (the codec types decode a whole block per weight). */
    private static float[] row(Tensor w, int r) {
        float[] row = new float[w.cols()];
        int size = w.type().blockSize;
        for (int i = 0; i < w.cols(); i += size) {
            if (CODEC.contains(w.type())) Codecs.of(w.type()).decodeBlock(w.data(), r * w.rowBytes() + (long) i / size * w.type().blockBytes, row, i);
            else for (int j = i; j < i + size; j++) row[j] = weight(w, r, j);
        }
        return row;
    }
}
