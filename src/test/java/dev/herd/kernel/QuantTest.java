package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
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

    /**
     * Q8_K as ggml's quantize_row_q8_K_ref writes it (`q8_k.quant.bin`, from `q8k.in.f32`: the K-quant edge cases and a
     * super-block of halves under a scale of 1, which round to even; see src/test/resources/ggml/README.md), value and
     * scale bit for bit, the scale repeated in each 32-value block's slot.
     */
    @Test
    void q8KMatchesGgmlBitForBit() throws IOException {
        ByteBuffer in = resource("q8k.in.f32"), expected = resource("q8_k.quant.bin");
        float[] x = new float[in.remaining() / 4];
        in.asFloatBuffer().get(x);
        int supers = x.length / 256;
        short[] q = new short[x.length];
        float[] scales = new float[x.length / 32];
        Quant.quantizeQ8K(x, q, scales, 0, supers);
        for (int s = 0; s < supers; s++) {
            int at = s * 292; // float d, int8 qs[256], int16 bsums[16]
            for (int b = 0; b < 8; b++) assertThat(Float.floatToRawIntBits(scales[s * 8 + b])).as("super-block %d", s).isEqualTo(Float.floatToRawIntBits(expected.getFloat(at)));
            for (int i = 0; i < 256; i++) assertThat(q[s * 256 + i]).as("super-block %d value %d", s, i).isEqualTo((short) expected.get(at + 4 + i));
        }
    }

    /** Activations read only by K-quant layouts are rounded per 256 values; any other quantized reader keeps Q8_0's 32. */
    @Test
    void kQuantReadersGetQ8K() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor q4k = Kernels.prepare(Weights.random(GgmlType.Q4_K, InterleavedKernel.ROWS, 512, 1, arena), arena);
            Tensor q6k = Kernels.prepare(Weights.random(GgmlType.Q6_K, InterleavedKernel.ROWS, 512, 2, arena), arena);
            Tensor q4_0 = Kernels.prepare(Weights.random(GgmlType.Q4_0, InterleavedKernel.ROWS, 512, 3, arena), arena);
            Activations k = new Activations(512, 1), mixed = new Activations(512, 1);
            k.readBy(q4k);
            k.readBy(q6k);
            mixed.readBy(q4k);
            mixed.readBy(q4_0);
            for (Activations a : new Activations[]{k, mixed}) {
                for (int i = 0; i < 512; i++) a.values[i] = i == 300 ? 40f : (float) Math.sin(i);
                a.quantize(0, 2);
                a.quantize(1, 2);
            }
            assertThat(k.scales[8]).isEqualTo(k.scales[15]).isEqualTo(1 / (-127f / 40f)); // the outlier 40 sets the second super-block's
            short[] q = new short[512];
            float[] scales = new float[16];
            Quant.quantizeQ8K(k.values, q, scales, 0, 2);
            assertThat(k.q).containsExactly(q);
            assertThat(Arrays.copyOf(k.scales, 16)).containsExactly(scales); // one vector's blocks (the array has room for four)
            Quant.quantizeQ8(mixed.values, q, scales, 0, 16);
            assertThat(mixed.q).containsExactly(q);
            assertThat(Arrays.copyOf(mixed.scales, 16)).containsExactly(scales);
        }
    }

    private static ByteBuffer resource(String name) throws IOException {
        try (InputStream s = QuantTest.class.getResourceAsStream("/ggml/" + name)) {
            return ByteBuffer.wrap(s.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
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
