package dev.herd.kernel;

import org.junit.jupiter.api.Test;

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
