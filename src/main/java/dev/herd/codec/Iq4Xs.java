package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 8 sub-blocks of 32: a half scale d, the 2 high bits of the eight 6-bit sub-block scales (a little-endian
 * short), their 4 low bits (4 bytes, two per byte), then 8 times 16 bytes of IQ4_NL nibbles; x = d * (scale - 32) * table[q].
 */
public final class Iq4Xs implements Codec {
    public GgmlType type() { return GgmlType.IQ4_XS; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        for (int ib = 0; ib < 8; ib++) Iq4Nl.decode32(src, at + 8 + 16L * ib, step(src, at, ib), dst, off + 32 * ib);
    }

    /** Sub-block j's (values 32j .. 32j + 31) d * (scale - 32), in float as ggml's dequantize_row_iq4_xs: x = step * level. */
    public static float step(MemorySegment src, long at, int j) {
        int high = src.get(Bits.I16, at + 2) & 0xffff;
        int scale = (Bits.u8(src, at + 4 + j / 2) >> 4 * (j % 2) & 15) | (high >> 2 * j & 3) << 4;
        return Bits.half(src, at) * (scale - 32);
    }

    /** Value i's level: its nibble's entry in IQ4_NL's table (-127..113). */
    public static int level(MemorySegment src, long at, int i) {
        int b = Bits.u8(src, at + 8 + 16L * (i / 32) + i % 16);
        return Iq4Nl.VALUES[i % 32 < 16 ? b & 15 : b >> 4];
    }
}
