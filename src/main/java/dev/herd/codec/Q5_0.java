package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 32 values: a half scale d, 32 fifth bits (one little-endian int, bit j for value j), then 16 bytes of low nibbles as
 * in Q4_0; x = (q - 16) * d.
 */
final class Q5_0 implements Codec {
    public GgmlType type() { return GgmlType.Q5_0; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at);
        int high = Bits.i32(src, at + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + 6 + j);
            dst[off + j] = ((q & 15 | (high >>> j & 1) << 4) - 16) * d;
            dst[off + j + 16] = ((q >> 4 | (high >>> (j + 16) & 1) << 4) - 16) * d;
        }
    }
}
