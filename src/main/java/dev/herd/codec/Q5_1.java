package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: half scale d and half min m, the fifth bits and nibbles as in Q5_0; x = q * d + m. */
public final class Q5_1 implements Codec {
    public GgmlType type() { return GgmlType.Q5_1; }

    /** Value e's level (0..31): its nibble as in Q4_0 and its fifth bit, bit e of the little-endian int. */
    public static int level(MemorySegment src, long at, int e) {
        int q = Bits.u8(src, at + 8 + e % 16);
        return (e < 16 ? q & 15 : q >> 4) | (Bits.i32(src, at + 4) >>> e & 1) << 4;
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

    public boolean encodes() { return true; }

    /** quantize_row_q5_1_ref: d = (max - min) / 31, m = min, q = (uint8)((x - min) / d + 0.5). */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            float v = x[off + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        float d = (max - min) / 31;
        float id = d != 0 ? 1 / d : 0;
        Bits.put16(out, o, Float.floatToFloat16(d));
        Bits.put16(out, o + 2, Float.floatToFloat16(min));
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (int) ((x[off + j] - min) * id + 0.5f) & 0xff, hi = (int) ((x[off + j + 16] - min) * id + 0.5f) & 0xff;
            out[o + 8 + j] = (byte) ((lo & 15) | (hi & 15) << 4);
            qh |= (lo >> 4 & 1) << j | (hi >> 4 & 1) << (j + 16);
        }
        Bits.put16(out, o + 4, (short) qh);
        Bits.put16(out, o + 6, (short) (qh >> 16));
    }
}
