package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** Brain floats: the upper half of a float. */
final class Bf16 implements Codec {
    public GgmlType type() { return GgmlType.BF16; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        dst[off] = Float.intBitsToFloat(src.get(Bits.I16, at) << 16);
    }

    @Override
    public void decode(MemorySegment src, long at, float[] dst, int off, int n) {
        for (int i = 0; i < n; i++) dst[off + i] = Float.intBitsToFloat(src.get(Bits.I16, at + 2L * i) << 16);
    }


    public boolean encodes() { return true; }

    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        Bits.put16(out, o, round(x[off]));
    }

    /** Round to nearest even on the upper 16 bits; NaN stays a quiet NaN (as ggml does). */
    static short round(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 64);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
