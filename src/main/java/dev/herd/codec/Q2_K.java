package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 16 sub-blocks of 16: 16 bytes of 4-bit scale (low) and min (high) per sub-block, 64 bytes of 2-bit
 * values, then half super-scales d and dmin; x = d * scale * q - dmin * min. Each 32-byte run of values holds four
 * 32-value groups, one per bit pair.
 */
final class Q2_K implements Codec {
    public GgmlType type() { return GgmlType.Q2_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at + 80), min = Bits.half(src, at + 82);
        int is = 0, y = off;
        for (int half = 0; half < 2; half++) {
            long q = at + 16 + 32L * half;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 32; part += 16) {
                    int sc = Bits.u8(src, at + is++);
                    float dl = d * (sc & 15), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) dst[y++] = dl * (Bits.u8(src, q + part + l) >> shift & 3) - ml;
                }
            }
        }
    }
}
