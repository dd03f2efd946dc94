package dev.herd.format;

import dev.herd.codec.Codecs;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class QuantizerTest {

    private static byte[] encode(GgmlType type, float[] x) {
        byte[] out = new byte[(int) type.bytes(x.length)];
        assertThat(Quantizer.encode(type, x, 0, x.length, out, 0)).isEqualTo(out.length);
        return out;
    }

    private static float[] decode(GgmlType type, byte[] b, int n) {
        float[] x = new float[n];
        Codecs.of(type).decode(MemorySegment.ofArray(b), 0, x, 0, n);
        return x;
    }

    @Test
    void q8BlockRoundsHalfAwayFromZero() {
        float[] x = new float[32];
        x[0] = 127f;   // amax 127 → d = 1 (fp16 0x3c00), id = 1
        x[1] = 2.5f;   // half-even would give 2
        x[2] = -2.5f;
        x[3] = 0.5f;
        x[4] = -1.5f;
        x[5] = -126.4f;
        byte[] b = encode(GgmlType.Q8_0, x);
        assertThat(b[0]).isEqualTo((byte) 0x00);
        assertThat(b[1]).isEqualTo((byte) 0x3c);
        assertThat(new byte[]{b[2], b[3], b[4], b[5], b[6], b[7], b[8]}).containsExactly(127, 3, -3, 1, -2, -126, 0);
    }

    @Test
    void q4BlockFollowsTheReferenceRounding() {
        float[] x = new float[32];
        x[0] = -8f;    // largest |x| is negative: d = -8 / -8 = 1, id = 1
        x[1] = 7f;     // 15.5 → 15
        x[2] = 7.9f;   // 16.4 → 16 → clipped to 15
        x[3] = -0.6f;  // 7.9 → 7
        x[4] = 0.5f;   // 9.0 → 9
        x[16] = 3f;    // high nibble of byte 0: 11.5 → 11
        byte[] b = encode(GgmlType.Q4_0, x);
        assertThat(b[0]).isEqualTo((byte) 0x00);
        assertThat(b[1]).isEqualTo((byte) 0x3c);
        assertThat(b[2]).isEqualTo((byte) (0 | 11 << 4));
        assertThat(b[3]).isEqualTo((byte) (15 | 8 << 4));
        assertThat(b[4]).isEqualTo((byte) (15 | 8 << 4));
        assertThat(b[5]).isEqualTo((byte) (7 | 8 << 4));
        assertThat(b[6]).isEqualTo((byte) (9 | 8 << 4));
    }

    @Test
    void q4WithPositiveMaxHasNegativeScale() {
        float[] x = new float[32];
        x[0] = 16f;    // d = -2, id = -0.5: 16 → 0.5 → 0
        x[1] = -16f;   // 16.5 → 16 → 15, decodes to -14: the one clipped value
        byte[] b = encode(GgmlType.Q4_0, x);
        assertThat(Float.float16ToFloat((short) ((b[0] & 0xff) | b[1] << 8))).isEqualTo(-2f);
        float[] y = decode(GgmlType.Q4_0, b, 32);
        assertThat(y[0]).isEqualTo(16f);
        assertThat(y[1]).isEqualTo(-14f);
        assertThat(y[2]).isEqualTo(0f);
    }

    @Test
    void zeroBlocksStayZero() {
        for (GgmlType t : new GgmlType[]{GgmlType.Q4_0, GgmlType.Q8_0}) {
            for (float v : decode(t, encode(t, new float[64]), 64)) assertThat(v == 0).isTrue(); // -0 for Q4_0, as in ggml
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertThat(Quantizer.bf16(1f)).isEqualTo((short) 0x3f80);
        assertThat(Quantizer.bf16(Float.intBitsToFloat(0x3f808000))).isEqualTo((short) 0x3f80); // tie, even stays
        assertThat(Quantizer.bf16(Float.intBitsToFloat(0x3f818000))).isEqualTo((short) 0x3f82); // tie, odd rounds up
        assertThat(Quantizer.bf16(Float.intBitsToFloat(0x3f808001))).isEqualTo((short) 0x3f81);
        assertThat(Float.isNaN(Float.intBitsToFloat(Quantizer.bf16(Float.NaN) << 16))).isTrue();
    }

    @Test
    void roundTripErrorsStayWithinEachTypesBound() {
        Random r = new Random(7);
        float[] x = new float[32 * 64];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian() * (i % 97 == 0 ? 3 : 0.05f);
        for (GgmlType t : new GgmlType[]{GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0}) {
            float[] y = decode(t, encode(t, x), x.length);
            for (int b = 0; b < x.length / 32; b++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
                for (int j = 0; j < 32; j++) {
                    int i = b * 32 + j;
                    double bound = switch (t) {
                        case F32 -> 0;
                        case F16 -> Math.abs(x[i]) / 2048 + 6e-8;
                        case BF16 -> Math.abs(x[i]) / 256;
                        case Q8_0 -> amax / 127 * 0.5 + amax / 1024;  // half a step plus the fp16 scale error
                        default -> amax / 8 * 1.001;                   // one step: the clipped side of Q4_0
                    };
                    assertThat((double) y[i]).as("%s element %d", t, i).isCloseTo(x[i], within(bound));
                }
            }
        }
    }

    @Test
    void writeEmitsTheEncodedBytes() throws Exception {
        float[] x = new float[64];
        for (int i = 0; i < 64; i++) x[i] = i - 30;
        var out = new java.io.ByteArrayOutputStream();
        Quantizer.write(GgmlType.Q8_0, x, 0, 64, out);
        assertThat(out.toByteArray()).isEqualTo(encode(GgmlType.Q8_0, x));
    }
}
