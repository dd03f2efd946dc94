package dev.herd.kernel;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class QuantTest {
    @Test
    void roundsHalfAwayFromZeroWithScaleAmaxOver127() {
        float[] x = new float[32];
        x[0] = 127;
        x[1] = -2.5f;
        x[2] = 2.5f;
        x[3] = -0.5f;
        x[4] = 0.5f;
        x[5] = -127;
        x[6] = 0.49f;
        short[] q = new short[32];
        float[] scales = new float[1];
        Quant.quantizeQ8(x, q, scales, 0, 1);
        assertThat(scales[0]).isEqualTo(1f);
        assertThat(q).startsWith((short) 127, (short) -3, (short) 3, (short) -1, (short) 1, (short) -127, (short) 0);
    }

    /** The vector quantizer against C's arithmetic, value by value, on random blocks and on the fractions next to a half. */
    @Test
    void matchesScalarRoundingBitForBit() {
        SplittableRandom rnd = new SplittableRandom(7);
        int blocks = 4096;
        float[] x = new float[blocks * 32];
        for (int i = 0; i < x.length; i++) {
            x[i] = switch (rnd.nextInt(4)) {
                case 0 -> (float) rnd.nextGaussian();
                case 1 -> (float) rnd.nextDouble(-1e-3, 1e-3);
                // k + 0.5 and its float neighbours, scaled by a block whose amax is 127 (so the scale is exactly 1)
                case 2 -> Math.nextAfter((rnd.nextInt(254) - 127) / 2f + 0.5f * (rnd.nextBoolean() ? 1 : -1), rnd.nextBoolean() ? 0 : 200);
                default -> 0f;
            };
        }
        for (int b = 0; b < blocks; b += 3) x[b * 32 + rnd.nextInt(32)] = 127f; // some blocks with scale 1
        short[] q = new short[x.length];
        float[] scales = new float[blocks];
        Quant.quantizeQ8(x, q, scales, 0, blocks);
        for (int b = 0; b < blocks; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            assertThat(scales[b]).isEqualTo(d);
            for (int i = 0; i < 32; i++) {
                float v = x[b * 32 + i] * id;
                short expected = (short) (v < 0 ? -Math.round(-v) : Math.round(v)); // roundf: halves away from zero
                assertThat(q[b * 32 + i]).as("block %d value %d (%s)", b, i, v).isEqualTo(expected);
            }
        }
    }

    @Test
    void zeroBlockHasZeroScale() {
        short[] q = new short[32];
        float[] scales = {5};
        Quant.quantizeQ8(new float[32], q, scales, 0, 1);
        assertThat(scales[0]).isZero();
        assertThat(q).containsOnly((short) 0);
    }

    @Test
    void quantizeSplitsBlocksOfAllBatchVectors() {
        Activations x = new Activations(64, 3);
        x.batch(3);
        for (int i = 0; i < x.values.length; i++) x.values[i] = i - 50;
        for (int i = 0; i < 3; i++) x.quantize(i, 3);
        for (int i = 0; i < 3 * 64; i++) {
            assertThat(x.q[i] * x.scales[i / 32]).isCloseTo(i - 50, within(x.scales[i / 32] / 2 + 1e-6f));
            assertThat(x.dequantized[i]).isEqualTo(x.q[i] * x.scales[i / 32]);
        }
    }
}
