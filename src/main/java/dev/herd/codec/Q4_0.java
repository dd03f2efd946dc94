package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** 32 values: a half scale d, then 16 bytes whose low nibbles are values 0..15 and high nibbles 16..31; x = (q - 8) * d. */
final class Q4_0 implements Codec {
    public GgmlType type() { return GgmlType.Q4_0; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = Bits.half(src, at);
        for (int j = 0; j < 16; j++) {
            int q = Bits.u8(src, at + 2 + j);
            dst[off + j] = ((q & 15) - 8) * d;
            dst[off + j + 16] = ((q >> 4) - 8) * d;
        }
    }

    public boolean encodes() { return true; }

    /** quantize_row_q4_0_ref: d = (signed value of largest |x|) / -8, q = min(15, (int8)(x / d + 8.5)). */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float max = Bits.extreme(x, off, 32);
        float d = max / -8;
        float id = d != 0 ? 1 / d : 0;
        Bits.put16(out, o, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[off + j + 16] * id + 8.5f));
            out[o + 2 + j] = (byte) (lo | hi << 4);
        }
    }
}
