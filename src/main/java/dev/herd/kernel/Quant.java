package dev.herd.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import static jdk.incubator.vector.VectorOperators.F2I;
import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.I2S;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.MAX;
import static jdk.incubator.vector.VectorOperators.NEG;

/** Q8_0 and Q8_K quantization of activations and weights, the way ggml rounds. */
public final class Quant {
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);

    private Quant() {}

    /** Values per Q8_K super-block. */
    static final int SUPER = 256;
    /** 1.5 x 2^23: added to a float below 2^22 in magnitude, it leaves the value rounded half to even in the low mantissa bits. */
    private static final float MAGIC = 12582912f;

    /**
     * Quantizes super-blocks [from, to) of 256 values of {@code x} as ggml's quantize_row_q8_K_ref: the value of
     * largest magnitude (the first of equal ones) maps to -127, each value times -127 / that value is rounded half to
     * even (ggml's nearest_int) and capped at 127; the scale, its inverse, goes to each of the super-block's eight
     * 32-value blocks, so kernels read it as they read Q8_0 scales.
     */
    public static void quantizeQ8K(float[] x, short[] q, float[] scales, int from, int to) {
        for (int s = from; s < to; s++) {
            int base = s * SUPER;
            FloatVector amax = FloatVector.zero(F);
            for (int i = 0; i < SUPER; i += F.length()) amax = amax.max(FloatVector.fromArray(F, x, base + i).abs());
            float largest = amax.reduceLanes(MAX), max = 0;
            for (int i = base; i < base + SUPER; i++) {
                if (Math.abs(x[i]) == largest) {
                    max = x[i];
                    break;
                }
            }
            float iscale = largest != 0 ? -127f / max : 0f, d = largest != 0 ? 1 / iscale : 0f;
            for (int b = 0; b < SUPER / Activations.BLOCK; b++) scales[s * (SUPER / Activations.BLOCK) + b] = d;
            for (int i = 0; i < SUPER; i += F.length()) {
                IntVector bits = (IntVector) FloatVector.fromArray(F, x, base + i).mul(iscale).add(MAGIC).reinterpretShape(I, 0);
                IntVector r = bits.and(0x007fffff).sub(0x00400000).min(127);
                ((ShortVector) r.convertShape(I2S, SH, 0)).intoArray(q, base + i);
            }
        }
    }

    /**
     * Quantizes blocks [from, to) of {@code x} into int8 values (widened to short) and one scale per block: amax / 127,
     * and each value times its inverse rounded half away from zero (C's roundf), in vectors of the machine's width.
     */
    public static void quantizeQ8(float[] x, short[] q, float[] scales, int from, int to) {
        for (int b = from; b < to; b++) {
            int base = b * Activations.BLOCK;
            FloatVector max = FloatVector.zero(F);
            for (int i = 0; i < Activations.BLOCK; i += F.length()) max = max.max(FloatVector.fromArray(F, x, base + i).abs());
            float d = max.reduceLanes(MAX) / 127f;
            float id = d != 0 ? 1f / d : 0f;
            scales[b] = d;
            for (int i = 0; i < Activations.BLOCK; i += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, base + i).mul(id), a = v.abs();
                // roundf(|v|): its integer part, plus one where the fraction (exact: a - trunc(a)) is at least a half.
                IntVector t = (IntVector) a.convertShape(F2I, I, 0);
                VectorMask<Integer> up = a.sub((FloatVector) t.convertShape(I2F, F, 0)).compare(GE, 0.5f).cast(I);
                IntVector r = t.add(1, up).lanewise(NEG, v.compare(LT, 0f).cast(I));
                ((ShortVector) r.convertShape(I2S, SH, 0)).intoArray(q, base + i);
            }
        }
    }
}
