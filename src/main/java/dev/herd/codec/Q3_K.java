package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 16 sub-blocks of 16: 32 bytes of high bits (bit k of byte l for value l + 32k), 64 bytes of low 2-bit
 * values (laid out as in Q2_K), 12 bytes packing sixteen 6-bit scales, then a half scale d;
 * x = d * (scale - 32) * (low - (high ? 0 : 4)).
 */
final class Q3_K implements Codec {
    public GgmlType type() { return GgmlType.Q3_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at + 108);
        int[] scales = scales(src, at + 96);
        int is = 0, y = off, m = 1;
        for (int half = 0; half < 2; half++) {
            long q = at + 32 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int part = 0; part < 32; part += 16) {
                    float dl = d * (scales[is++] - 32);
                    for (int l = part; l < part + 16; l++) {
                        int low = Bits.u8(src, q + l) >> shift & 3;
                        dst[y++] = dl * (low - ((Bits.u8(src, at + l) & m) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    /** The sixteen 6-bit scales: low 4 bits in bytes 0..7 (two per byte), high 2 bits in bytes 8..11. */
    private static int[] scales(MemorySegment src, long at) {
        int a0 = Bits.i32(src, at), a1 = Bits.i32(src, at + 4), tmp = Bits.i32(src, at + 8);
        int[] words = {
                a0 & 0x0f0f0f0f | (tmp & 0x03030303) << 4,
                a1 & 0x0f0f0f0f | (tmp >>> 2 & 0x03030303) << 4,
                a0 >>> 4 & 0x0f0f0f0f | (tmp >>> 4 & 0x03030303) << 4,
                a1 >>> 4 & 0x0f0f0f0f | (tmp >>> 6 & 0x03030303) << 4};
        int[] scales = new int[16];
        for (int i = 0; i < 16; i++) scales[i] = words[i / 4] >>> 8 * (i % 4) & 0xff;
        return scales;
    }
}
