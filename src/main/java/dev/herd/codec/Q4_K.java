package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 8 sub-blocks of 32: half super-scales d and dmin, 12 bytes packing eight 6-bit scales and mins, then
 * 128 bytes of nibbles (each 32-byte run: low nibbles are one sub-block, high nibbles the next);
 * x = d * scale * q - dmin * min.
 */
final class Q4_K implements Codec {
    public GgmlType type() { return GgmlType.Q4_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at), min = Bits.half(src, at + 2);
        for (int is = 0; is < 8; is += 2) {
            float d1 = d * Bits.scaleMinK4(src, at + 4, is, false), m1 = min * Bits.scaleMinK4(src, at + 4, is, true);
            float d2 = d * Bits.scaleMinK4(src, at + 4, is + 1, false), m2 = min * Bits.scaleMinK4(src, at + 4, is + 1, true);
            long q = at + 16 + 16L * is;
            int y = off + 32 * is;
            for (int l = 0; l < 32; l++) {
                int b = Bits.u8(src, q + l);
                dst[y + l] = d1 * (b & 15) - m1;
                dst[y + 32 + l] = d2 * (b >> 4) - m2;
            }
        }
    }


    public boolean encodes() { return true; }

    /** quantize_row_q4_K_ref: per 32 values a min-and-scale fit (make_qkx2_quants), scales and mins to 6 bits. */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float[] scales = new float[8], mins = new float[8];
        int[] L = new int[256];
        KQuants.fitK4(x, off, 15, -1f, 0.1f, 20, scales, mins, L);
        KQuants.headK4(x, off, scales, mins, 15, L, out, o);
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) out[o + 16 + 32 * j + l] = (byte) (L[64 * j + l] | L[64 * j + l + 32] << 4);
        }
    }
}
