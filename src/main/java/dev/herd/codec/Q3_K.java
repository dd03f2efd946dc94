package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 16 sub-blocks of 16: 32 bytes of high bits (bit k of byte l for value l + 32k), 64 bytes of low 2-bit
 * values (laid out as in Q2_K), 12 bytes packing sixteen 6-bit scales, then a half scale d;
 * x = d * (scale - 32) * (low - (high ? 0 : 4)).
 */
public final class Q3_K implements Codec {
    public GgmlType type() { return GgmlType.Q3_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = d(src, at);
        for (int j = 0; j < 16; j++) {
            float dl = d * scale(src, at, j);
            for (int i = 16 * j; i < 16 * j + 16; i++) dst[off + i] = dl * level(src, at, i);
        }
    }

    /** Value i's level (-4..3): value l + 32k of half h (i = 128h + 32k + l) is bit pair k of low byte 32h + l. */
    public static int level(MemorySegment src, long at, int i) {
        int half = i / 128, k = i % 128 / 32, l = i % 32;
        int low = Bits.u8(src, at + 32 + 32 * half + l) >> 2 * k & 3;
        return low - ((Bits.u8(src, at + l) >> 4 * half + k & 1) != 0 ? 0 : 4);
    }

    /**
     * Sub-block j's scale minus 32 (-32..31): its low 4 bits are nibble j / 8 of byte j % 8, its high 2 bits bit pair
     * j / 4 of byte 8 + j % 4.
     */
    public static int scale(MemorySegment src, long at, int j) {
        int low = Bits.u8(src, at + 96 + j % 8) >> 4 * (j / 8) & 15;
        int high = Bits.u8(src, at + 104 + j % 4) >> 2 * (j / 4) & 3;
        return (low | high << 4) - 32;
    }

    /** The block's half scale d. */
    public static float d(MemorySegment src, long at) {
        return Bits.half(src, at + 108);
    }
}
