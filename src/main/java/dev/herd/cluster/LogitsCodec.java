package dev.herd.cluster;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How a worker's logits slice travels to the root. With f32 sync: plain F32, exact. With q80 sync (already lossy):
 * each row's maximum as F32, then every logit's distance below it as F16, half the bytes. F16 is finest near zero,
 * so the likely tokens, those within a few logits of the maximum, keep about 1e-3 absolute precision, far below
 * what the Q8_0 partial sums already change.
 */
final class LogitsCodec {
    private LogitsCodec() {}

    static int bytes(SyncCodec codec, int rows, int n) {
        return codec == SyncCodec.F32 ? 4 * rows * n : rows * (4 + 2 * n);
    }

    /** Encodes rows x n logits from {@code src} (row stride n) into {@code out}. */
    static void encode(SyncCodec codec, float[] src, int rows, int n, byte[] out) {
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        if (codec == SyncCodec.F32) {
            b.asFloatBuffer().put(src, 0, rows * n);
            return;
        }
        for (int r = 0; r < rows; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, src[r * n + i]);
            b.putFloat(max);
            for (int i = 0; i < n; i++) b.putShort(Float.floatToFloat16(src[r * n + i] - max));
        }
    }

    /** Decodes rows x n logits into {@code dst} at {@code offset + r * stride + i}. */
    static void decode(SyncCodec codec, byte[] in, int rows, int n, float[] dst, int offset, int stride) {
        ByteBuffer b = ByteBuffer.wrap(in).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            int at = offset + r * stride;
            if (codec == SyncCodec.F32) {
                for (int i = 0; i < n; i++) dst[at + i] = b.getFloat();
            } else {
                float max = b.getFloat();
                for (int i = 0; i < n; i++) dst[at + i] = max + Float.float16ToFloat(b.getShort());
            }
        }
    }
}
