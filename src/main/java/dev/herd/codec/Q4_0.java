package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: a half scale d, then 16 bytes whose low nibbles are values 0..15 and high nibbles 16..31; x = (q - 8) * d. */
final class Q4_0 implements Codec {
    public GgmlType type() { return GgmlType.Q4_0; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at);
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + 2 + j);
            dst[off + j] = ((q & 15) - 8) * d;
            dst[off + j + 16] = ((q >> 4) - 8) * d;
        }
    }
}
