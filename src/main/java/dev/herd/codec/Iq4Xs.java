package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 8 sub-blocks of 32: a half scale d, the 2 high bits of the eight 6-bit sub-block scales (a little-endian
 * short), their 4 low bits (4 bytes, two per byte), then 8 times 16 bytes of IQ4_NL nibbles; x = d * (scale - 32) * table[q].
 */
final class Iq4Xs implements Codec {
    public GgmlType type() { return GgmlType.IQ4_XS; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at);
        int high = src.get(Bits.I16, at + 2) & 0xffff;
        for (int ib = 0; ib < 8; ib++) {
            int scale = (Bits.u8(src, at + 4 + ib / 2) >> 4 * (ib % 2) & 15) | (high >> 2 * ib & 3) << 4;
            Iq4Nl.decode32(src, at + 8 + 16L * ib, d * (scale - 32), dst, off + 32 * ib);
        }
    }
}
