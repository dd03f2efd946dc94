package dev.herd.codec;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian reads and writes shared by the codecs. */
final class Bits {
    private Bits() {}

    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The half float at {@code at}. */
    static float half(MemorySegment s, long at) {
        return Float.float16ToFloat(s.get(I16, at));
    }

    /** The unsigned byte at {@code at}. */
    static int u8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }

    static int i8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at);
    }

    static int i32(MemorySegment s, long at) {
        return s.get(I32, at);
    }

    /**
     * The 6-bit scale ({@code min == false}) or min of sub-block {@code j} (0..7) in the 12 packed bytes at
     * {@code at}: ggml's get_scale_min_k4, shared by Q4_K and Q5_K.
     */
    static int scaleMinK4(MemorySegment s, long at, int j, boolean min) {
        if (j < 4) return u8(s, at + j + (min ? 4 : 0)) & 63;
        int low = u8(s, at + j + 4), high = u8(s, at + j - (min ? 0 : 4)) >> 6;
        return (min ? low >> 4 : low & 0xf) | high << 4;
    }

    /** The value of largest magnitude among x[off..off+n), with its sign; the first of equal ones (as ggml's loops). */
    static float extreme(float[] x, int off, int n) {
        float amax = 0, max = 0;
        for (int j = 0; j < n; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    static void put16(byte[] b, int at, short v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >> 8);
    }

    /** A float rounded to a half, as ggml's GGML_FP32_TO_FP16 (nearest even), and back: what a decoder will read. */
    static float roundHalf(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }
}
