package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K with a fifth bit: half d and dmin, 12 bytes of scales and mins, 32 bytes of high bits (bit k of byte l for
 * value l + 32k), then the 128 bytes of nibbles; x = d * scale * q - dmin * min.
 */
final class Q5_K implements Codec {
    public GgmlType type() { return GgmlType.Q5_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at), min = Bits.half(src, at + 2);
        for (int is = 0; is < 8; is += 2) {
            float d1 = d * Bits.scaleMinK4(src, at + 4, is, false), m1 = min * Bits.scaleMinK4(src, at + 4, is, true);
            float d2 = d * Bits.scaleMinK4(src, at + 4, is + 1, false), m2 = min * Bits.scaleMinK4(src, at + 4, is + 1, true);
            long q = at + 48 + 16L * is;
            int y = off + 32 * is;
            for (int l = 0; l < 32; l++) {
                int b = Bits.u8(src, q + l), h = Bits.u8(src, at + 16 + l) >> is;
                dst[y + l] = d1 * ((b & 15) + (h & 1) * 16) - m1;
                dst[y + 32 + l] = d2 * ((b >> 4) + (h & 2) * 8) - m2;
            }
        }
    }


    public boolean encodes() { return true; }

    /** quantize_row_q5_K_ref: Q4_K's fit with 31 levels, the fifth bits apart. */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float[] scales = new float[8], mins = new float[8];
        int[] L = new int[256];
        KQuants.fitK4(x, off, 31, -0.5f, 0.1f, 15, scales, mins, L);
        KQuants.headK4(x, off, scales, mins, 31, L, out, o);
        for (int l = 0; l < 32; l++) {
            int h = 0;
            for (int k = 0; k < 8; k++) h |= (L[32 * k + l] >> 4) << k;
            out[o + 16 + l] = (byte) h;
        }
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) out[o + 48 + 32 * j + l] = (byte) ((L[64 * j + l] & 15) | (L[64 * j + l + 32] & 15) << 4);
        }
    }
}
