package dev.herd.engine;

import dev.herd.model.ModelConfig;

/**
 * Rotary position embedding. Frequencies follow llama.cpp: {@code theta^(-2i/ropeDim) / divisor[i]}, where the
 * divisors are Llama 3.1's scaling factors (from the rope_freqs tensor or computed from metadata, as llama.cpp's
 * converter computes that tensor) or 1. The cos/sin
 * of the positions in the current batch are computed once per batch and shared by all layers and heads.
 */
final class Rope {
    private final int half;
    private final boolean neox;
    private final double[] freqs;
    private final float[] cos;
    private final float[] sin;

    /** {@code divisors} may be null (no scaling). */
    Rope(ModelConfig c, float[] divisors, int batch) {
        half = c.ropeDim() / 2;
        neox = c.arch().neox;
        float[] d = divisors != null ? divisors : c.scaling() != null ? c.ropeFreqs() : null;
        freqs = new double[half];
        for (int i = 0; i < half; i++) {
            freqs[i] = Math.pow(c.ropeTheta(), -2.0 * i / c.ropeDim()) / (d == null ? 1 : d[i]);
        }
        cos = new float[batch * half];
        sin = new float[batch * half];
    }

    /** Computes the rotations for the positions of the rows. */
    void prepare(Rows rows) {
        for (int b = 0; b < rows.n; b++) {
            for (int i = 0; i < half; i++) {
                double angle = rows.pos[b] * freqs[i];
                cos[b * half + i] = (float) Math.cos(angle);
                sin[b * half + i] = (float) Math.sin(angle);
            }
        }
    }

    /** Rotates one head vector {@code x[off .. off + headDim)} for batch entry {@code b}. */
    void apply(float[] x, int off, int b) {
        int stride = neox ? half : 1; // distance between the two values of a pair
        for (int i = 0; i < half; i++) {
            int j = neox ? off + i : off + 2 * i;
            float c = cos[b * half + i], s = sin[b * half + i];
            float x0 = x[j], x1 = x[j + stride];
            x[j] = x0 * c - x1 * s;
            x[j + stride] = x0 * s + x1 * c;
        }
    }
}
