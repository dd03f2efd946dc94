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
}
