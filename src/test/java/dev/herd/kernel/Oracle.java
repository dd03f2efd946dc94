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
            case Q4_K, Q5_K -> { // ggml's decode (CodecTest checks it bit for bit)
                float[] block = new float[256];
                Codecs.of(w.type()).decode(row, i / 256 * w.type().blockBytes, block, 0, 256);
                yield block[i % 256];
            }
            default -> throw new IllegalArgumentException(w.type().toString());
        };
    }

    /**
     * Vector b of x as the kernel of type {@code kernel} multiplies it: Q8_K-rounded for Q4_K's at batch 1,
     * Q8_0-rounded for the other kernels that read quantized activations, the floats for the rest.
     */
    static float[] inputs(GgmlType kernel, Activations x, int b) {
        float[] in = new float[x.n];
        for (int i = 0; i < x.n; i++) {
            int k = b * x.n + i;
            in[i] = Kernels.of(kernel).needsQuantized() ? x.q[k] * x.scales[k / Activations.BLOCK] : x.values[k];
        }
        if (kernel == GgmlType.Q4_K_INTERLEAVED && x.batch() == 1) {
            for (int from = 0; from < x.n; from += 256) q8k(x.values, from, in);
        }
        return in;
    }

    /** Values [from, from + 256) of v rounded as ggml's quantize_row_q8_K_ref rounds them (int8 levels of 1 / (-127 / extreme)), into out. */
    private static void q8k(float[] v, int from, float[] out) {
        float max = 0, amax = 0;
        for (int j = from; j < from + 256; j++) {
            if (Math.abs(v[j]) > amax) {
                amax = Math.abs(v[j]);
                max = v[j];
            }
        }
        float iscale = amax == 0 ? 0 : -127f / max;
        for (int j = from; j < from + 256; j++) {
            out[j] = amax == 0 ? 0 : Math.min(127, Math.round(iscale * v[j])) * (1 / iscale); // ties: never met with these random inputs
        }
    }

    static double dot(Tensor w, int r, Activations x, int b) {
        return dot(w, w.type(), r, x, b);
    }

    /** w's row r times vector b of x as the kernel of type {@code kernel} sees x. */
    static double dot(Tensor w, GgmlType kernel, int r, Activations x, int b) {
        float[] row = row(w, r), in = inputs(kernel, x, b);
        double sum = 0;
        for (int i = 0; i < w.cols(); i++) sum += (double) row[i] * in[i];
        return sum;
    }

    /** Sum of |w_i x_i|: float rounding errors of a dot product scale with it, not with the result. */
    static double magnitude(Tensor w, GgmlType kernel, int r, Activations x, int b) {
        float[] row = row(w, r), in = inputs(kernel, x, b);
        double sum = 0;
        for (int i = 0; i < w.cols(); i++) sum += Math.abs((double) row[i] * in[i]);
        return sum;
    }

    /** Row r of w, each weight as {@link #weight} gives it (a K-quant row decoded at once, as weight decodes it). */
    private static float[] row(Tensor w, int r) {
        float[] row = new float[w.cols()];
        if (w.type().blockSize == 256) Codecs.of(w.type()).decode(w.data(), r * w.rowBytes(), row, 0, w.cols());
        else for (int i = 0; i < w.cols(); i++) row[i] = weight(w, r, i);
        return row;
    }

    static double magnitude(Tensor w, int r, Activations x, int b) {
        return magnitude(w, w.type(), r, x, b);
    }
}
