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


    public boolean encodes() { return true; }

    /** quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d) (half away from zero). */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[off + j]));
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        Bits.put16(out, o, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            float v = x[off + j] * id;
            out[o + 2 + j] = (byte) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
        }
    }
}
