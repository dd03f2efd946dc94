package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 8 sub-blocks of 32: half super-scales d and dmin, 12 bytes packing eight 6-bit scales and mins, then
 * 128 bytes of nibbles (each 32-byte run: low nibbles are one sub-block, high nibbles the next);
 * x = d * scale * q - dmin * min.
 */
public final class Q4_K implements Codec {
    public GgmlType type() { return GgmlType.Q4_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        for (int j = 0; j < 8; j++) {
            float step = step(src, at, j), min = min(src, at, j);
            for (int l = 0; l < 32; l++) dst[off + 32 * j + l] = step * level(src, at, 32 * j + l) - min;
        }
    }

    /** Sub-block j's (values 32j .. 32j + 31) d * scale, in float as ggml's dequantize_row_q4_K: x = step * level - min. */
    public static float step(MemorySegment src, long at, int j) {
        return Bits.half(src, at) * Bits.scaleMinK4(src, at + 4, j, false);
    }

    /** Sub-block j's dmin * min. */
    public static float min(MemorySegment src, long at, int j) {
        return Bits.half(src, at + 2) * Bits.scaleMinK4(src, at + 4, j, true);
    }

    /** Value i's level (0..15): in the 32-byte run i / 64, low nibbles for the run's first sub-block, high for its second. */
    public static int level(MemorySegment src, long at, int i) {
        int b = Bits.u8(src, at + 16 + 32 * (i / 64) + i % 32);
        return i % 64 < 32 ? b & 15 : b >> 4;
    }

    /**
     * Sub-block j's 32 levels from a copy of the block's bytes, as 16 bytes: value e's level in the low nibble of
     * {@code pairs[e]}, value e + 16's in its high nibble ({@link #level}'s layout, a byte at a time: repacking at load).
     */
    public static void nibblePairs(byte[] block, int j, byte[] pairs) {
        int q = 16 + 32 * (j / 2), shift = 4 * (j % 2);
        for (int e = 0; e < 16; e++) pairs[e] = (byte) (block[q + e] >> shift & 15 | (block[q + e + 16] >> shift & 15) << 4);
    }

    public boolean encodes() { return true; }

    /** quantize_row_q4_K_ref: per 32 values a min-and-scale fit (make_qkx2_quants), scales and mins to 6 bits. */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float[] scales = new float[8], mins = new float[8];
        int[] L = new int[256];
        KQuants.fitK4(x, off, 15, -1f, 0.1f, 20, scales, mins, L);
        KQuants.headK4(x, off, scales, mins, 15, L, out, o);
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) out[o + 16 + 32 * j + l] = (byte) (L[64 * j + l] | L[64 * j + l + 32] << 4);
        }
    }
}
