package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** IEEE single floats, copied. */
final class F32 implements Codec {
    public GgmlType type() { return GgmlType.F32; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        dst[off] = src.get(Bits.F32, at);
    }

    @Override
    public void decode(MemorySegment src, long at, float[] dst, int off, int n) {
        MemorySegment.copy(src, Bits.F32, at, dst, off, n);
    }


    public boolean encodes() { return true; }

    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        int v = Float.floatToRawIntBits(x[off]);
        Bits.put16(out, o, (short) v);
        Bits.put16(out, o + 2, (short) (v >> 16));
    }
}
