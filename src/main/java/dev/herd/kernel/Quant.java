package dev.herd.kernel;

/** Q8_0 quantization of activations and weights, the way ggml rounds. */
public final class Quant {
    private Quant() {}

    /** Quantizes blocks [from, to) of {@code x} into int8 values (widened to short) and one scale per block. */
    public static void quantizeQ8(float[] x, short[] q, float[] scales, int from, int to) {
        for (int b = from; b < to; b++) {
            int base = b * Activations.BLOCK;
            float amax = 0;
            for (int i = 0; i < Activations.BLOCK; i++) amax = Math.max(amax, Math.abs(x[base + i]));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            scales[b] = d;
            for (int i = 0; i < Activations.BLOCK; i++) q[base + i] = (short) roundHalfAway(x[base + i] * id);
        }
    }

    /** C's roundf: halves round away from zero (Math.round rounds -2.5 to -2, ggml to -3). */
    static int roundHalfAway(float v) {
        return v < 0 ? -Math.round(-v) : Math.round(v);
    }
}
