package dev.herd.codec;

import dev.herd.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * One weight type's codec: its block layout (the {@link GgmlType} it reads, whose block size and bytes come from the
 * GGUF format), the decoding of blocks to floats, bit-exact with ggml's {@code dequantize_row_*}, and for the types
 * Herd writes the encoding of floats to blocks, bit-exact with ggml's reference {@code quantize_row_*_ref}. One class
 * per type; {@link Codecs} lists them.
 */
public interface Codec {

    GgmlType type();

    /** Decodes the block at byte {@code at} of {@code src} into {@code dst[off .. off + blockSize)}. */
    void decodeBlock(MemorySegment src, long at, float[] dst, int off);

    /** Decodes {@code n} values (a multiple of the block size) starting at byte {@code at}. */
    default void decode(MemorySegment src, long at, float[] dst, int off, int n) {
        GgmlType t = type();
        for (int b = 0; b < n / t.blockSize; b++) decodeBlock(src, at + (long) b * t.blockBytes, dst, off + b * t.blockSize);
    }

    /** Whether Herd writes this type ({@link #encodeBlock} is implemented). */
    default boolean encodes() {
        return false;
    }

    /** Encodes {@code x[off .. off + blockSize)} into the block at {@code out[o]}, as ggml's {@code quantize_row_*_ref}. */
    default void encodeBlock(float[] x, int off, byte[] out, int o) {
        throw new UnsupportedOperationException("cannot quantize to " + type());
    }
}
