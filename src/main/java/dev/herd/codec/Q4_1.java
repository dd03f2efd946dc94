package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: half scale d and half min m, then 16 bytes of nibbles as in Q4_0; x = q * d + m. */
public final class Q4_1 implements Codec {
    public GgmlType type() { return GgmlType.Q4_1; }

    /** Value e's level (0..15): nibbles as in Q4_0, low for values 0..15. */
    public static int level(MemorySegment src, long at, int e) {
        int q = Bits.u8(src, at + 4 + e % 16);
        return e < 16 ? q & 15 : q >> 4;
    }

    /** The block's 32 levels from a copy of its bytes, as 16 bytes: value e's in the low nibble, e + 16's in the high one (as stored). */
    public static void nibblePairs(byte[] block, byte[] pairs) {
        System.arraycopy(block, 4, pairs, 0, 16);
    }

    /** The block's half scale d and half min m: x = level * d + m. */
    public static float d(MemorySegment src, long at) {
        return Bits.half(src, at);
    }

    public static float m(MemorySegment src, long at) {
        return Bits.half(src, at + 2);
    }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = d(src, at), m = m(src, at);
        for (int e = 0; e < 32; e++) dst[off + e] = level(src, at, e) * d + m;
    }
}
