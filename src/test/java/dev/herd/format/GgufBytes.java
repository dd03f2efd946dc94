package dev.herd.format;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Hand-written GGUF bytes for tests that need what {@link GgufWriter} refuses to write (bad counts, nesting, offsets). */
final class GgufBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** A GGUF v3 header declaring {@code tensors} tensors and {@code kvs} metadata entries. */
    static GgufBytes header(long tensors, long kvs) {
        return new GgufBytes().i32(GgufReader.MAGIC).i32(3).i64(tensors).i64(kvs);
    }

    GgufBytes i32(int v) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
        return this;
    }

    GgufBytes i64(long v) {
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        return this;
    }

    GgufBytes string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        i64(b.length);
        out.writeBytes(b);
        return this;
    }

    /** A tensor directory entry. */
    GgufBytes tensor(String name, int type, long offset, long... dims) {
        string(name).i32(dims.length);
        for (long d : dims) i64(d);
        return i32(type).i64(offset);
    }

    GgufBytes zeros(int n) {
        out.writeBytes(new byte[n]);
        return this;
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}
