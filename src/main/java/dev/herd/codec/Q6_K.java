package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 16 sub-blocks of 16: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 signed 8-bit scales, then
 * a half scale d; x = d * scale * (q - 32). Each half of 128 values takes 64 low bytes and 32 high bytes: value l + 32k
 * (k = 0..3) has its low nibble in byte l (k even) or l + 32 (k odd), low half for k < 2, and its high pair at bits 2k
 * of high byte l.
 */
final class Q6_K implements Codec {
    public GgmlType type() { return GgmlType.Q6_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at + 208);
        for (int half = 0; half < 2; half++) {
            long ql = at + 64L * half, qh = at + 128 + 32L * half, sc = at + 192 + 8L * half;
            int y = off + 128 * half;
            for (int l = 0; l < 32; l++) {
                int is = l / 16, a = Bits.u8(src, ql + l), b = Bits.u8(src, ql + l + 32), h = Bits.u8(src, qh + l);
                dst[y + l] = d * Bits.i8(src, sc + is) * ((a & 15 | (h & 3) << 4) - 32);
                dst[y + l + 32] = d * Bits.i8(src, sc + is + 2) * ((b & 15 | (h >> 2 & 3) << 4) - 32);
                dst[y + l + 64] = d * Bits.i8(src, sc + is + 4) * ((a >> 4 | (h >> 4 & 3) << 4) - 32);
                dst[y + l + 96] = d * Bits.i8(src, sc + is + 6) * ((b >> 4 | (h >> 6 & 3) << 4) - 32);
            }
        }
    }
}
