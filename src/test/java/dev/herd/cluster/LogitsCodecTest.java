package dev.herd.cluster;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LogitsCodecTest {
    static float[] logits(int rows, int n) {
        SplittableRandom r = new SplittableRandom(9);
        float[] v = new float[rows * n];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * 4);
        return v;
    }

    @Test
    void f32IsExactAndSmallerThanPlainFloats() {
        float[] v = logits(3, 500), back = new float[3 * 600];
        v[7] = 1e-30f; // a few values whose top byte is rare travel as exceptions
        v[8] = -3e20f;
        v[9] = Float.NaN;
        byte[] wire = new byte[LogitsCodec.maxBytes(SyncCodec.F32, 3, 500)];
        int bytes = LogitsCodec.encode(SyncCodec.F32, v, 3, 500, wire);
        assertThat(bytes).as("bytes for 1500 logits").isLessThan(4 * 1500 * 9 / 10);
        LogitsCodec.decode(SyncCodec.F32, wire, bytes, 3, 500, back, 100, 600);
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < 500; i++) {
                assertThat(Float.floatToRawIntBits(back[100 + r * 600 + i])).isEqualTo(Float.floatToRawIntBits(v[r * 500 + i]));
            }
        }
    }

    @Test
    void f32WithoutCommonTopBytesTravelsPlain() {
        SplittableRandom r = new SplittableRandom(4);
        float[] v = new float[1000], back = new float[1000];
        for (int i = 0; i < v.length; i++) v[i] = Float.intBitsToFloat(r.nextInt()); // every top byte about as common
        byte[] wire = new byte[LogitsCodec.maxBytes(SyncCodec.F32, 1, 1000)];
        int bytes = LogitsCodec.encode(SyncCodec.F32, v, 1, 1000, wire);
        assertThat(bytes).isEqualTo(1 + 4 * 1000);
        LogitsCodec.decode(SyncCodec.F32, wire, bytes, 1, 1000, back, 0, 1000);
        for (int i = 0; i < v.length; i++) assertThat(Float.floatToRawIntBits(back[i])).isEqualTo(Float.floatToRawIntBits(v[i]));
    }

    @Test
    void corruptF32LogitsAreRejected() {
        float[] v = logits(1, 300), back = new float[300];
        byte[] wire = new byte[LogitsCodec.maxBytes(SyncCodec.F32, 1, 300)];
        int bytes = LogitsCodec.encode(SyncCodec.F32, v, 1, 300, wire);
        assertThatThrownBy(() -> LogitsCodec.decode(SyncCodec.F32, wire, bytes - 1, 1, 300, back, 0, 300)).isInstanceOf(Wire.ProtocolException.class);
        assertThatThrownBy(() -> LogitsCodec.decode(SyncCodec.F32, wire, 0, 1, 300, back, 0, 300)).isInstanceOf(Wire.ProtocolException.class);
        byte[] bad = wire.clone();
        bad[0] = 16; // a dictionary larger than 15
        assertThatThrownBy(() -> LogitsCodec.decode(SyncCodec.F32, bad, bytes, 1, 300, back, 0, 300)).isInstanceOf(Wire.ProtocolException.class);
    }

    @Test
    void withQ80SyncLogitsTravelAsF16BelowTheRowMaximum() {
        int rows = 2, n = 4000;
        float[] v = logits(rows, n), back = new float[rows * n];
        byte[] wire = new byte[LogitsCodec.maxBytes(SyncCodec.Q80, rows, n)];
        assertThat(LogitsCodec.encode(SyncCodec.Q80, v, rows, n, wire)).isEqualTo(rows * (4 + 2 * n)); // about half of F32
        LogitsCodec.decode(SyncCodec.Q80, wire, wire.length, rows, n, back, 0, n);
        for (int r = 0; r < rows; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, v[r * n + i]);
            for (int i = 0; i < n; i++) {
                float below = max - v[r * n + i], err = Math.abs(back[r * n + i] - v[r * n + i]);
                // F16 keeps 11 significant bits of the distance below the maximum (plus float rounding of the sum)
                assertThat(err).isLessThanOrEqualTo(below / 1024 + Math.ulp(max) * 2);
            }
        }
    }
}
