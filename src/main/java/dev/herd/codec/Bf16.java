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
}
