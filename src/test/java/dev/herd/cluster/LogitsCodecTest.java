package dev.herd.cluster;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class LogitsCodecTest {
    static float[] logits(int rows, int n) {
        SplittableRandom r = new SplittableRandom(9);
        float[] v = new float[rows * n];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * 4);
        return v;
    }

    @Test
    void f32IsExact() {
        float[] v = logits(3, 500), back = new float[3 * 600];
        byte[] wire = new byte[LogitsCodec.bytes(SyncCodec.F32, 3, 500)];
        LogitsCodec.encode(SyncCodec.F32, v, 3, 500, wire);
        LogitsCodec.decode(SyncCodec.F32, wire, 3, 500, back, 100, 600);
        for (int r = 0; r < 3; r++) for (int i = 0; i < 500; i++) assertThat(back[100 + r * 600 + i]).isEqualTo(v[r * 500 + i]);
    }

    @Test
    void withQ80SyncLogitsTravelAsF16BelowTheRowMaximum() {
        int rows = 2, n = 4000;
        float[] v = logits(rows, n), back = new float[rows * n];
        byte[] wire = new byte[LogitsCodec.bytes(SyncCodec.Q80, rows, n)];
        assertThat(wire.length).isEqualTo(rows * (4 + 2 * n)); // about half of F32
        LogitsCodec.encode(SyncCodec.Q80, v, rows, n, wire);
        LogitsCodec.decode(SyncCodec.Q80, wire, rows, n, back, 0, n);
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
