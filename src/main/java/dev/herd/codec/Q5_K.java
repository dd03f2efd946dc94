package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K with a fifth bit: half d and dmin, 12 bytes of scales and mins, 32 bytes of high bits (bit k of byte l for
 * value l + 32k), then the 128 bytes of nibbles; x = d * scale * q - dmin * min, scales and mins as {@link Q4_K#step}
 * and {@link Q4_K#min} read them.
 */
public final class Q5_K implements Codec {
    public GgmlType type() { return GgmlType.Q5_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        for (int j = 0; j < 8; j++) {
            float step = Q4_K.step(src, at, j), min = Q4_K.min(src, at, j);
            for (int l = 0; l < 32; l++) dst[off + 32 * j + l] = step * level(src, at, 32 * j + l) - min;
        }
    }

    /** Value i's level (0..31): Q4_K's nibble, 32 bytes further, plus its fifth bit, bit i / 32 of byte i % 32. */
    public static int level(MemorySegment src, long at, int i) {
        return level(Bits.u8(src, at + 48 + 32 * (i / 64) + i % 32), Bits.u8(src, at + 16 + i % 32), i);
    }

    /** Sub-block j's 32 levels, as {@link #level} gives them, from a copy of the block's bytes (repacking at load). */
    public static void levels(byte[] block, int j, byte[] levels) {
        for (int e = 0; e < 32; e++) {
            int i = 32 * j + e;
            levels[e] = (byte) level(block[48 + 32 * (i / 64) + i % 32] & 0xFF, block[16 + i % 32] & 0xFF, i);
        }
    }

    /** Value i's level from its low-bits byte and its high-bits byte. */
    private static int level(int low, int high, int i) {
        return (i % 64 < 32 ? low & 15 : low >> 4) | (high >> i / 32 & 1) << 4;
    }

    public boolean encodes() { return true; }

    /** quantize_row_q5_K_ref: Q4_K's fit with 31 levels, the fifth bits apart. */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        float[] scales = new float[8], mins = new float[8];
        int[] L = new int[256];
        KQuants.fitK4(x, off, 31, -0.5f, 0.1f, 15, scales, mins, L);
        KQuants.headK4(x, off, scales, mins, 31, L, out, o);
        for (int l = 0; l < 32; l++) {
            int h = 0;
            for (int k = 0; k < 8; k++) h |= (L[32 * k + l] >> 4) << k;
            out[o + 16 + l] = (byte) h;
        }
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) out[o + 48 + 32 * j + l] = (byte) ((L[64 * j + l] & 15) | (L[64 * j + l + 32] & 15) << 4);
        }
    }
}
