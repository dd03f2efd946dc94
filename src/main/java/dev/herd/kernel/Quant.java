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

/** Q8_0 quantization of activations and weights, the way ggml rounds. */
public final class Quant {
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);

    private Quant() {}

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
