package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** 32 values: a half scale d, then nibbles laid out as in Q4_0 that index a fixed non-linear table; x = d * table[q]. */
public final class Iq4Nl implements Codec {
    /** ggml's kvalues_iq4nl. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    public GgmlType type() { return GgmlType.IQ4_NL; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        decode32(src, at + 2, Bits.half(src, at), dst, off);
    }

    /**
     * Writes the block at {@code at} as the Q8_0 block it equals (the same half d, each value's table entry as its
     * int8 level) to {@code dst} at {@code to}: x = d * table[q] either way, the same float.
     */
    public static void toQ8_0(MemorySegment src, long at, MemorySegment dst, long to) {
        dst.set(Bits.I16, to, src.get(Bits.I16, at));
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + 2 + j);
            dst.set(ValueLayout.JAVA_BYTE, to + 2 + j, VALUES[q & 15]);
            dst.set(ValueLayout.JAVA_BYTE, to + 18 + j, VALUES[q >> 4]);
        }
    }

    /** The 32 values of the 16 nibble bytes at {@code at}, scaled by {@code d} (shared with IQ4_XS). */
    static void decode32(MemorySegment src, long at, float d, float[] dst, int off) {
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + j);
            dst[off + j] = d * VALUES[q & 15];
            dst[off + j + 16] = d * VALUES[q >> 4];
        }
    }
}
