package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: half scale d and half min m, then 16 bytes of nibbles as in Q4_0; x = q * d + m. */
final class Q4_1 implements Codec {
    public GgmlType type() { return GgmlType.Q4_1; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at), m = Bits.half(src, at + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + 4 + j);
            dst[off + j] = (q & 15) * d + m;
            dst[off + j + 16] = (q >> 4) * d + m;
        }
    }
}
