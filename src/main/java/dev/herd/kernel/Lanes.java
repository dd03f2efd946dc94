package dev.herd.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums a vector's lanes in one fixed order. The Vector API leaves the order of a float ADD reduction unspecified,
 * and interpreted and compiled code do differ; with Q8_0 activations a last-bit difference can flip a rounding and
 * change a sampled token, so the same seed would not always give the same text. Lane-wise adds are exact IEEE
 * operations in every mode, so halving with rotations is reproducible (and as fast as reduceLanes).
 */
public final class Lanes {
    private static final VectorSpecies<Float> S256 = FloatVector.SPECIES_256;
    private static final VectorShuffle<Float> ROT4 = VectorShuffle.iota(S256, 4, 1, true);
    private static final VectorShuffle<Float> ROT2 = VectorShuffle.iota(S256, 2, 1, true);
    private static final VectorShuffle<Float> ROT1 = VectorShuffle.iota(S256, 1, 1, true);
    private static final VectorSpecies<Float> S512 = FloatVector.SPECIES_512;
    private static final VectorShuffle<Float> ROT8 = VectorShuffle.iota(S512, 8, 1, true);

    private Lanes() {}

    public static float sum(FloatVector v) {
        if (v.species() == S512) { // AVX-512: fold to 256 bits first, the same way every time
            v = v.add(v.rearrange(ROT8));
            v = (FloatVector) v.reinterpretShape(S256, 0);
        }
        if (v.species() == S256) {
            v = v.add(v.rearrange(ROT4));
            v = v.add(v.rearrange(ROT2));
            return v.add(v.rearrange(ROT1)).lane(0);
        }
        float s = 0;
        for (float x : v.toArray()) s += x;
        return s;
    }
}
