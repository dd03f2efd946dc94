package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: a half scale d, then 32 signed bytes q; x = q * d. */
final class Q8_0 implements Codec {
    public GgmlType type() { return GgmlType.Q8_0; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at);
        for (int j = 0; j < 32; j++) dst[off + j] = Bits.i8(src, at + 2 + j) * d;
    }
}
