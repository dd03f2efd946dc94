package dev.herd.cluster;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * How a worker's logits slice travels to the root.
 *
 * <p>With q80 sync (already lossy): each row's maximum as F32, then every logit's distance below it as F16, half the
 * bytes. F16 is finest near zero, so the likely tokens, those within a few logits of the maximum, keep about 1e-3
 * absolute precision, far below what the Q8_0 partial sums already change.
 *
 * <p>With f32 sync: exact, and still about 12 % smaller than plain F32. Logits share few top bytes (sign and high
 * exponent bits: they lie within a few powers of two), so each float is sent as its low three bytes plus a 4-bit
 * index into a dictionary of the 15 most common top bytes; index 15 means the top byte follows in a list of
 * exceptions. A slice where that would not pay off travels as plain F32 behind a marker byte.
 * <pre>
 * k (0..15; 255 = plain), k dictionary bytes, 3 low bytes per value, one index nibble per value (two per byte,
 * low nibble first), one top byte per index 15, in order
 * </pre>
 */
final class LogitsCodec {
    private static final int PLAIN = 255, ESCAPE = 15;

    private LogitsCodec() {}

    /** The most bytes a slice of rows x n logits can take. */
    static int maxBytes(SyncCodec codec, int rows, int n) {
        return codec == SyncCodec.F32 ? 1 + 4 * rows * n : rows * (4 + 2 * n);
    }

    /** Encodes rows x n logits from {@code src} (row stride n) into {@code out}; returns the bytes used. */
    static int encode(SyncCodec codec, float[] src, int rows, int n, byte[] out) {
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        if (codec == SyncCodec.F32) return exact(src, rows * n, b);
        for (int r = 0; r < rows; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) max = Math.max(max, src[r * n + i]);
            b.putFloat(max);
            for (int i = 0; i < n; i++) b.putShort(Float.floatToFloat16(src[r * n + i] - max));
        }
        return b.position();
    }

    private static int exact(float[] src, int m, ByteBuffer b) {
        int[] count = new int[256];
        for (int i = 0; i < m; i++) count[Float.floatToRawIntBits(src[i]) >>> 24]++;
        int[] index = new int[256];
        Arrays.fill(index, ESCAPE);
        int k = 0, covered = 0;
        for (; k < ESCAPE; k++) { // the 15 most common top bytes
            int best = -1;
            for (int t = 0; t < 256; t++) if (count[t] > 0 && index[t] == ESCAPE && (best < 0 || count[t] > count[best])) best = t;
            if (best < 0) break;
            index[best] = k;
            covered += count[best];
        }
        int size = 1 + k + 3 * m + (m + 1) / 2 + (m - covered);
        if (size >= 1 + 4 * m) {
            b.put((byte) PLAIN);
            for (int i = 0; i < m; i++) b.putFloat(src[i]);
            return b.position();
        }
        b.put((byte) k);
        for (int t = 0; t < 256; t++) if (index[t] != ESCAPE) b.put(1 + index[t], (byte) t);
        b.position(1 + k);
        for (int i = 0; i < m; i++) {
            int bits = Float.floatToRawIntBits(src[i]);
            b.put((byte) bits).put((byte) (bits >>> 8)).put((byte) (bits >>> 16));
        }
        for (int i = 0; i < m; i += 2) {
            int lo = index[Float.floatToRawIntBits(src[i]) >>> 24];
            int hi = i + 1 < m ? index[Float.floatToRawIntBits(src[i + 1]) >>> 24] : 0;
            b.put((byte) (lo | hi << 4));
        }
        for (int i = 0; i < m; i++) {
            int top = Float.floatToRawIntBits(src[i]) >>> 24;
            if (index[top] == ESCAPE) b.put((byte) top);
        }
        return b.position();
    }

    /** Decodes {@code length} bytes into rows x n logits at {@code dst[offset + r * stride + i]}; checks the layout. */
    static void decode(SyncCodec codec, byte[] in, int length, int rows, int n, float[] dst, int offset, int stride) {
        ByteBuffer b = ByteBuffer.wrap(in, 0, length).order(ByteOrder.LITTLE_ENDIAN);
        if (codec == SyncCodec.F32) {
            exact(b, rows, n, dst, offset, stride);
            return;
        }
        if (length != maxBytes(codec, rows, n)) throw new Wire.ProtocolException("logits of " + length + " bytes, expected " + maxBytes(codec, rows, n));
        for (int r = 0; r < rows; r++) {
            int at = offset + r * stride;
            float max = b.getFloat();
            for (int i = 0; i < n; i++) dst[at + i] = max + Float.float16ToFloat(b.getShort());
        }
    }

    private static void exact(ByteBuffer b, int rows, int n, float[] dst, int offset, int stride) {
        int m = rows * n, length = b.limit();
        if (length < 1) throw new Wire.ProtocolException("empty logits");
        int k = b.get(0) & 0xff;
        if (k == PLAIN) {
            if (length != 1 + 4 * m) throw new Wire.ProtocolException("logits of " + length + " bytes, expected " + (1 + 4 * m));
            b.position(1);
            for (int i = 0; i < m; i++) dst[offset + i / n * stride + i % n] = b.getFloat();
            return;
        }
        int low = 1 + k, nibbles = low + 3 * m, escapes = nibbles + (m + 1) / 2;
        if (k > ESCAPE || escapes > length) throw new Wire.ProtocolException("logits of " + length + " bytes do not hold " + m + " values");
        int e = escapes;
        for (int i = 0; i < m; i++) {
            int idx = (b.get(nibbles + i / 2) >>> (4 * (i % 2))) & 15;
            int top;
            if (idx == ESCAPE) {
                if (e >= length) throw new Wire.ProtocolException("logits: missing exceptions");
                top = b.get(e++) & 0xff;
            } else {
                if (idx >= k) throw new Wire.ProtocolException("logits: index " + idx + " past a dictionary of " + k);
                top = b.get(1 + idx) & 0xff;
            }
            int at = low + 3 * i;
            int bits = top << 24 | (b.get(at + 2) & 0xff) << 16 | (b.get(at + 1) & 0xff) << 8 | (b.get(at) & 0xff);
            dst[offset + i / n * stride + i % n] = Float.intBitsToFloat(bits);
        }
        if (e != length) throw new Wire.ProtocolException("logits of " + length + " bytes, expected " + e);
    }
}
