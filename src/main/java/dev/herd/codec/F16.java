package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** IEEE half floats. */
final class F16 implements Codec {
    public GgmlType type() { return GgmlType.F16; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        dst[off] = Bits.half(src, at);
    }

    @Override
    public void decode(MemorySegment src, long at, float[] dst, int off, int n) {
        for (int i = 0; i < n; i++) dst[off + i] = Bits.half(src, at + 2L * i);
    }


    public boolean encodes() { return true; }

    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        Bits.put16(out, o, Float.floatToFloat16(x[off]));
    }
}
