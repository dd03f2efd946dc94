package dev.herd;

import static org.assertj.core.api.Assertions.assertThat;

/** How far logits are from the ones expected, the measure the engine, cluster and converter tests share. */
public final class Logits {
    private Logits() {}

    /** ||actual - expected|| / ||expected||, over arrays of the same length. */
    public static double relativeL2(float[] actual, float[] expected) {
        assertThat(actual).hasSize(expected.length);
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = actual[i] - expected[i];
            diff += d * d;
            norm += (double) expected[i] * expected[i];
        }
        return Math.sqrt(diff / norm);
    }
}
