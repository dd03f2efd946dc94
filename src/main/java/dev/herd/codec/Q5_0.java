package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * 32 values: a half scale d, 32 fifth bits (one little-endian int, bit j for value j), then 16 bytes of low nibbles as
 * in Q4_0; x = (q - 16) * d.
 */
public final class Q5_0 implements Codec {
    public GgmlType type() { return GgmlType.Q5_0; }

    /** Writes the block at {@code at} as the Q8_0 block it equals (the same half d, levels q - 16 as int8) to {@code dst} at {@code to}. */
    public static void toQ8_0(MemorySegment src, long at, MemorySegment dst, long to) {
        dst.set(Bits.I16, to, src.get(Bits.I16, at));
        for (int e = 0; e < 32; e++) dst.set(ValueLayout.JAVA_BYTE, to + 2 + e, (byte) level(src, at, e));
    }

    /** Value e's level q - 16 (-16..15): its nibble as in Q4_0 and its fifth bit, bit e of the little-endian int. */
    static int level(MemorySegment src, long at, int e) {
        int q = Bits.u8(src, at + 6 + e % 16);
        return ((e < 16 ? q & 15 : q >> 4) | (Bits.i32(src, at + 2) >>> e & 1) << 4) - 16;
    }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at);
        for (int e = 0; e < 32; e++) dst[off + e] = level(src, at, e) * d;
    }

    public boolean encodes() { return true; }

    /** quantize_row_q5_0_ref: d = (signed value of largest |x|) / -16, q = min(31, (int8)(x / d + 16.5)). */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float max = Bits.extreme(x, off, 32);
        float d = max / -16;
        float id = d != 0 ? 1 / d : 0;
        Bits.put16(out, o, Float.floatToFloat16(d));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(31, (byte) (int) (x[off + j] * id + 16.5f));
            int hi = Math.min(31, (byte) (int) (x[off + j + 16] * id + 16.5f));
            out[o + 6 + j] = (byte) ((lo & 15) | (hi & 15) << 4);
            qh |= (lo >> 4 & 1) << j | (hi >> 4 & 1) << (j + 16);
        }
        Bits.put16(out, o + 2, (short) qh);
        Bits.put16(out, o + 4, (short) (qh >> 16));
    }
}
