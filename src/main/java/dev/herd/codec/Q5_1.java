package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: half scale d and half min m, the fifth bits and nibbles as in Q5_0; x = q * d + m. */
final class Q5_1 implements Codec {
    public GgmlType type() { return GgmlType.Q5_1; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at), m = Bits.half(src, at + 2);
        int high = Bits.i32(src, at + 4);
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + 8 + j);
            dst[off + j] = (q & 15 | (high >>> j & 1) << 4) * d + m;
            dst[off + j + 16] = (q >> 4 | (high >>> (j + 16) & 1) << 4) * d + m;
        }
    }
}
