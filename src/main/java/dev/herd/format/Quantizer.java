package dev.herd.format;

import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * F32 values to the weight types Herd writes (F32, F16, BF16, Q8_0, Q4_0), bit-exact with ggml's reference (non-SIMD)
 * quantizers so that files match what llama.cpp and distributed-llama produce. Decoding is each type's
 * {@link dev.herd.codec.Codec}.
 */
public final class Quantizer {
    private static final int QK = 32;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantizer() {}

    /** Encodes {@code n} values of {@code x} from {@code off} into {@code out} at {@code outOff}; returns the bytes written. */
    public static int encode(GgmlType type, float[] x, int off, int n, byte[] out, int outOff) {
        int bytes = (int) type.bytes(n);
        switch (type) {
            case F32 -> { for (int i = 0; i < n; i++) i32(out, outOff + 4 * i, Float.floatToRawIntBits(x[off + i])); }
            case F16 -> { for (int i = 0; i < n; i++) i16(out, outOff + 2 * i, Float.floatToFloat16(x[off + i])); }
            case BF16 -> { for (int i = 0; i < n; i++) i16(out, outOff + 2 * i, bf16(x[off + i])); }
            case Q8_0 -> { for (int b = 0; b < n / QK; b++) q8(x, off + b * QK, out, outOff + b * 34); }
            case Q4_0 -> { for (int b = 0; b < n / QK; b++) q4(x, off + b * QK, out, outOff + b * 18); }
            default -> throw new IllegalArgumentException("cannot quantize to " + type);
        }
        return bytes;
    }

    /** Encodes one row (or chunk) and writes it, so a converter holds one row at a time. */
    public static void write(GgmlType type, float[] x, int off, int n, OutputStream out) throws IOException {
        byte[] b = new byte[(int) type.bytes(n)];
        encode(type, x, off, n, b, 0);
        out.write(b);
    }

    /** Round to nearest even on the upper 16 bits; NaN stays a quiet NaN (as ggml does). */
    public static short bf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 64);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /** ggml quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) (half away from zero). */
    private static void q8(float[] x, int off, byte[] out, int o) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[off + j]));
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        i16(out, o, Float.floatToFloat16(d));
        for (int j = 0; j < QK; j++) {
            float v = x[off + j] * id;
            out[o + 2 + j] = (byte) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
        }
    }

    /** ggml quantize_row_q4_0_ref: d = (signed value of largest |x|) / -8, q = min(15, (int8)(x/d + 8.5)). */
    private static void q4(float[] x, int off, byte[] out, int o) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1 / d : 0;
        i16(out, o, Float.floatToFloat16(d));
        for (int j = 0; j < QK / 2; j++) {
            int lo = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int hi = Math.min(15, (int) (x[off + j + QK / 2] * id + 8.5f));
            out[o + 2 + j] = (byte) (lo | hi << 4);
        }
    }

    private static void i16(byte[] b, int at, short v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >> 8);
    }

    private static void i32(byte[] b, int at, int v) {
        i16(b, at, (short) v);
        i16(b, at + 2, (short) (v >> 16));
    }
}
