package dev.herd.format;

import dev.herd.codec.Codec;
import dev.herd.codec.Codecs;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;

/**
 * F32 values to the weight types Herd writes, block by block through each type's {@link Codec}, whose encoders are
 * bit-exact with ggml's reference (non-SIMD) quantizers so that files match what llama.cpp and distributed-llama
 * produce.
 */
public final class Quantizer {
    private Quantizer() {}

    /** Whether Herd can write tensors of this type. */
    public static boolean writes(GgmlType type) {
        return Codecs.reads(type) && Codecs.of(type).encodes();
    }

    /** Encodes {@code n} values of {@code x} from {@code off} into {@code out} at {@code outOff}; returns the bytes written. */
    public static int encode(GgmlType type, float[] x, int off, int n, byte[] out, int outOff) {
        if (!writes(type)) throw new IllegalArgumentException("cannot quantize to " + type);
        Codec c = Codecs.of(type);
        int bytes = (int) type.bytes(n);
        for (int b = 0; b < n / type.blockSize; b++) c.encodeBlock(x, off + b * type.blockSize, out, outOff + b * type.blockBytes);
        return bytes;
    }

    /** Encodes one row (or chunk) and writes it, so a converter holds one row at a time. */
    public static void write(GgmlType type, float[] x, int off, int n, OutputStream out) throws IOException {
        byte[] b = new byte[(int) type.bytes(n)];
        encode(type, x, off, n, b, 0);
        out.write(b);
    }

    /** A float as a brain float (nearest even; NaN stays a quiet NaN, as ggml does). */
    public static short bf16(float v) {
        byte[] b = new byte[2];
        encode(GgmlType.BF16, new float[]{v}, 0, 1, b, 0);
        return (short) ((b[0] & 0xff) | b[1] << 8);
    }
}
