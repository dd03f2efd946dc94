package dev.herd.kernel;

import dev.herd.codec.Codecs;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The scalar reference: every weight dequantized on its own, products summed in double. */
final class Oracle {
    private Oracle() {}

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
            case Q4_K, Q5_K -> { // ggml's decode (CodecTest checks it bit for bit)
                float[] block = new float[256];
                Codecs.of(w.type()).decode(row, i / 256 * w.type().blockBytes, block, 0, 256);
                yield block[i % 256];
            }
            default -> throw new IllegalArgumentException(w.type().toString());
        };
    }

    /**
     * The activation the kernel of type {@code kernel} multiplies: Q8_K-rounded for Q4_K's and Q5_K's at batch 1, Q8_0-rounded for
     * the other kernels that read quantized activations, the floats for the rest.
     */
    static float input(GgmlType kernel, Activations x, int b, int i) {
        int k = b * x.n + i;
        if ((kernel == GgmlType.Q4_K_INTERLEAVED || kernel == GgmlType.Q5_K_INTERLEAVED) && x.batch() == 1) return q8k(x.values, k);
        return Kernels.of(kernel).needsQuantized() ? x.q[k] * x.scales[k / Activations.BLOCK] : x.values[k];
    }

    /** Value k of v rounded as ggml's quantize_row_q8_K_ref rounds it: per 256 values, int8 levels of 1 / (-127 / extreme). */
    static float q8k(float[] v, int k) {
        int from = k / 256 * 256;
        float max = 0, amax = 0;
        for (int j = from; j < from + 256; j++) {
            if (Math.abs(v[j]) > amax) {
                amax = Math.abs(v[j]);
                max = v[j];
            }
        }
        if (amax == 0) return 0;
        float iscale = -127f / max;
        return Math.min(127, Math.round(iscale * v[k])) * (1 / iscale); // ties: never met with these random inputs
    }

    static double dot(Tensor w, int r, Activations x, int b) {
        return dot(w, w.type(), r, x, b);
    }

    /** w's row r times vector b of x as the kernel of type {@code kernel} sees x. */
    static double dot(Tensor w, GgmlType kernel, int r, Activations x, int b) {
        double sum = 0;
        for (int i = 0; i < w.cols(); i++) sum += (double) weight(w, r, i) * input(kernel, x, b, i);
        return sum;
    }

    /** Sum of |w_i x_i|: float rounding errors of a dot product scale with it, not with the result. */
    static double magnitude(Tensor w, GgmlType kernel, int r, Activations x, int b) {
        double sum = 0;
        for (int i = 0; i < w.cols(); i++) sum += Math.abs((double) weight(w, r, i) * input(kernel, x, b, i));
        return sum;
    }

    static double magnitude(Tensor w, int r, Activations x, int b) {
        return magnitude(w, w.type(), r, x, b);
    }
}
