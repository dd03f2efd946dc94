package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 16 sub-blocks of 16: 16 bytes of 4-bit scale (low) and min (high) per sub-block, 64 bytes of 2-bit
 * values, then half super-scales d and dmin; x = d * scale * q - dmin * min. Each 32-byte run of values holds four
 * 32-value groups, one per bit pair.
 */
public final class Q2_K implements Codec {
    public GgmlType type() { return GgmlType.Q2_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = d(src, at), dmin = dmin(src, at);
        for (int j = 0; j < 16; j++) {
            float dl = d * scale(src, at, j), ml = dmin * min(src, at, j);
            for (int i = 16 * j; i < 16 * j + 16; i++) dst[off + i] = dl * level(src, at, i) - ml;
        }
    }

    /** Value i's level (0..3): value l + 32k of half h (i = 128h + 32k + l) is bit pair k of byte 32h + l. */
    public static int level(MemorySegment src, long at, int i) {
        return Bits.u8(src, at + 16 + 32 * (i / 128) + i % 32) >> 2 * (i % 128 / 32) & 3;
    }

    /** Sub-block j's 4-bit scale. */
    public static int scale(MemorySegment src, long at, int j) {
        return Bits.u8(src, at + j) & 15;
    }

    /** Sub-block j's 4-bit min. */
    public static int min(MemorySegment src, long at, int j) {
        return Bits.u8(src, at + j) >> 4;
    }

    public static float d(MemorySegment src, long at) {
        return Bits.half(src, at + 80);
    }

    public static float dmin(MemorySegment src, long at) {
        return Bits.half(src, at + 82);
    }
}
