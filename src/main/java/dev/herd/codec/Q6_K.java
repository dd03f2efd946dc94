package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * 256 values in 16 sub-blocks of 16: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 signed 8-bit scales, then
 * a half scale d; x = d * scale * (q - 32). Each half of 128 values takes 64 low bytes and 32 high bytes: value l + 32k
 * (k = 0..3) has its low nibble in byte l (k even) or l + 32 (k odd), low half for k < 2, and its high pair at bits 2k
 * of high byte l.
 */
public final class Q6_K implements Codec {
    public GgmlType type() { return GgmlType.Q6_K; }

    public void decodeBlock(MemorySegment src, long at, float[] dst, int off) {
        float d = d(src, at);
        for (int i = 0; i < 256; i++) dst[off + i] = d * scale(src, at, i / 16) * level(src, at, i);
    }

    /** Value i's level q - 32 (-32..31) in the block at {@code at}: value l + 32k of half h (i = 128h + 32k + l). */
    public static int level(MemorySegment src, long at, int i) {
        int half = i / 128, k = i % 128 / 32, l = i % 32;
        return level(Bits.u8(src, at + 64 * half + l + 32 * (k % 2)), Bits.u8(src, at + 128 + 32 * half + l), k);
    }

    /** The block's 256 levels, as {@link #level} gives them, from a copy of its bytes (repacking at load). */
    public static void levels(byte[] block, byte[] levels) {
        for (int i = 0; i < 256; i++) {
            int half = i / 128, k = i % 128 / 32, l = i % 32;
            levels[i] = (byte) level(block[64 * half + l + 32 * (k % 2)] & 0xFF, block[128 + 32 * half + l] & 0xFF, k);
        }
    }

    /** A level from its low-bits byte ql and high-bits byte qh, for the k-th run of 32 values in its half. */
    private static int level(int ql, int qh, int k) {
        return ((k < 2 ? ql & 15 : ql >>> 4) | (qh >>> 2 * k & 3) << 4) - 32;
    }

    /** Sub-block j's signed 8-bit scale (values 16j .. 16j + 15). */
    public static int scale(MemorySegment src, long at, int j) {
        return Bits.i8(src, at + 192 + j);
    }

    /** The block's half scale d. */
    public static float d(MemorySegment src, long at) {
        return Bits.half(src, at + 208);
    }

    public boolean encodes() { return true; }

    /** quantize_row_q6_K_ref: per 16 values a signed fit (make_qx_quants), scales to 8 bits against the largest. */
    public void encodeBlock(float[] x, int off, byte[] out, int o) {
        int[] L = new int[256];
        float[] scales = new float[16];
        float maxScale = 0, maxAbs = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = KQuants.makeQx(16, 32, x, off + 16 * ib, L, 16 * ib);
            if (Math.abs(scales[ib]) > maxAbs) {
                maxAbs = Math.abs(scales[ib]);
                maxScale = scales[ib];
            }
        }
        if (maxAbs < KQuants.GROUP_MAX_EPS) { // an all-zero block
            java.util.Arrays.fill(out, o, o + 210, (byte) 0);
            return;
        }
        float iscale = -128f / maxScale;
        short d = Float.floatToFloat16(1 / iscale);
        Bits.put16(out, o + 208, d);
        for (int ib = 0; ib < 16; ib++) {
            byte sc = (byte) Math.min(127, KQuants.nearestInt(iscale * scales[ib]));
            out[o + 192 + ib] = sc;
            float dj = Float.float16ToFloat(d) * sc;
            if (dj == 0) continue;
            for (int i = 0; i < 16; i++) {
                L[16 * ib + i] = Math.max(-32, Math.min(31, KQuants.nearestInt(x[off + 16 * ib + i] / dj))) + 32;
            }
        }
        for (int half = 0; half < 2; half++) {
            int ql = o + 64 * half, qh = o + 128 + 32 * half, y = 128 * half;
            for (int l = 0; l < 32; l++) {
                int a = L[y + l], b = L[y + l + 32], c = L[y + l + 64], e = L[y + l + 96];
                out[ql + l] = (byte) ((a & 15) | (c & 15) << 4);
                out[ql + l + 32] = (byte) ((b & 15) | (e & 15) << 4);
                out[qh + l] = (byte) (a >> 4 | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6);
            }
        }
    }
}
