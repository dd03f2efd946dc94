package dev.herd.codec;

/**
 * The helpers ggml's K-quant reference quantizers share (ggml-quants.c: nearest_int, make_qkx2_quants,
 * make_qx_quants and the Q4_K/Q5_K scale packing), written float for float in ggml's order of operations so that the
 * blocks come out bit-identical. Levels are ints here where ggml has bytes; they never leave 0..63.
 */
final class KQuants {
    private KQuants() {}

    /** ggml's GROUP_MAX_EPS: a group whose largest |x| is below it is all zero. */
    static final float GROUP_MAX_EPS = 1e-15f;

    /** ggml's nearest_int: round half to even through the float adder, exact for |f| up to 2^22. */
    static int nearestInt(float f) {
        return (Float.floatToRawIntBits(f + 12582912f) & 0x007fffff) - 0x00400000;
    }

    /**
     * make_qkx2_quants over {@code x[xo .. xo + n)}: levels 0..nmax in {@code L[lo ..]} such that x ~ scale * L - min,
     * searching {@code nstep + 1} scales around nmax / (max - min) with weighted least squares. Returns the scale;
     * {@code mins[mj]} gets the min (0 or positive, as ggml's {@code *the_min = -min}).
     */
    static float makeQkx2(int n, int nmax, float[] x, int xo, float[] weights, int[] L, int lo, float[] mins, int mj,
                          int[] aux, float rmin, float rdelta, int nstep) {
        float min = x[xo], max = x[xo];
        float sumW = weights[0], sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float v = x[xo + i];
            if (v < min) min = v;
            if (v > max) max = v;
            float w = weights[i];
            sumW += w;
            sumX += w * v;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            mins[mj] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            L[lo + i] = Math.max(0, Math.min(nmax, l));
            float diff = scale * L[lo + i] + min - x[xo + i];
            bestError += weights[i] * (diff * diff);
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                aux[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[xo + i];
            }
            float d = sumW * sumL2 - sumL * sumL;
            if (d > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / d;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / d;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    error += weights[i] * (diff * diff);
                }
                if (error < bestError) {
                    System.arraycopy(aux, 0, L, lo, n);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[mj] = -min;
        return scale;
    }

    /**
     * make_qx_quants with rmse_type 1 and no importance weights (weights x^2) over {@code x[xo .. xo + n)}: levels
     * 0..2 nmax - 1 in {@code L[lo ..]} (nmax stands for 0) such that x ~ scale * (L - nmax). Returns the scale.
     */
    static float makeQx(int n, int nmax, float[] x, int xo, int[] L, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
            L[lo + i] = l + nmax;
            float w = v * v;
            sumLX += w * v * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++) {
                float v = x[xo + i];
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
                float w = v * v;
                sumLX += w * v * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) {
                    L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                }
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /**
     * The Q4_K/Q5_K super-block head at {@code out[o]}: half d and dmin (the largest scale and min over 63), then the
     * eight 6-bit scales and mins packed in 12 bytes; then re-fits {@code L} (levels 0..nmax) to the rounded scales as
     * quantize_row_q4_K_ref does. {@code x} holds the 256 values from {@code off}.
     */
    static void headK4(float[] x, int off, float[] scales, float[] mins, int nmax, int[] L, byte[] out, int o) {
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f, invMin = maxMin > 0 ? 63f / maxMin : 0f;
        int[] ls = new int[8], lm = new int[8];
        for (int j = 0; j < 8; j++) { // ggml stores nearest_int in a uint8_t, then clamps
            ls[j] = Math.min(63, nearestInt(invScale * scales[j]) & 0xff);
            lm[j] = Math.min(63, nearestInt(invMin * mins[j]) & 0xff);
        }
        int s = o + 4;
        for (int j = 0; j < 4; j++) {
            out[s + j] = (byte) (ls[j] | (ls[j + 4] >> 4) << 6);
            out[s + j + 4] = (byte) (lm[j] | (lm[j + 4] >> 4) << 6);
            out[s + j + 8] = (byte) ((ls[j + 4] & 0xf) | (lm[j + 4] & 0xf) << 4);
        }
        short d = Float.floatToFloat16(maxScale / 63f), dmin = Float.floatToFloat16(maxMin / 63f);
        Bits.put16(out, o, d);
        Bits.put16(out, o + 2, dmin);
        for (int j = 0; j < 8; j++) {
            float dj = Float.float16ToFloat(d) * ls[j];
            if (dj == 0) continue;
            float dm = Float.float16ToFloat(dmin) * lm[j];
            for (int i = 0; i < 32; i++) {
                L[32 * j + i] = Math.max(0, Math.min(nmax, nearestInt((x[off + 32 * j + i] + dm) / dj)));
            }
        }
    }

    /** The eight sub-block fits of Q4_K and Q5_K: weights sqrt(mean x^2) + |x| per 32 values. */
    static void fitK4(float[] x, int off, int nmax, float rmin, float rdelta, int nstep, float[] scales, float[] mins, int[] L) {
        float[] weights = new float[32];
        int[] aux = new int[32];
        for (int j = 0; j < 8; j++) {
            int b = off + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[b + l] * x[b + l];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[b + l]);
            scales[j] = makeQkx2(32, nmax, x, b, weights, L, 32 * j, mins, j, aux, rmin, rdelta, nstep);
        }
    }
}
