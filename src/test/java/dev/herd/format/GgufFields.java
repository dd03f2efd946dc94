package dev.herd.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the numeric fields of a valid GGUF header lie (counts, lengths, value types, dimensions, tensor types and
 * offsets), so a fuzzer can hit them exactly instead of by chance. Each entry is {offset, width in bytes}.
 */
final class GgufFields {
    private final ByteBuffer b;
    private final List<int[]> fields = new ArrayList<>();

    private GgufFields(byte[] gguf) {
        b = ByteBuffer.wrap(gguf).order(ByteOrder.LITTLE_ENDIAN);
    }

    static List<int[]> of(byte[] gguf) {
        GgufFields f = new GgufFields(gguf);
        f.scan();
        return f.fields;
    }

    private void scan() {
        b.position(8);
        long tensors = field(8), kvs = field(8);
        for (long i = 0; i < kvs; i++) {
            string();
            value((int) field(4));
        }
        for (long i = 0; i < tensors; i++) {
            string();
            int dims = (int) field(4);
            for (int d = 0; d < dims; d++) field(8);
            field(4);
            field(8);
        }
    }

    private long field(int width) {
        fields.add(new int[]{b.position(), width});
        return width == 4 ? b.getInt() : b.getLong();
    }

    private void string() {
        int length = (int) field(8);
        b.position(b.position() + length);
    }

    private void value(int type) {
        switch (type) {
            case 0, 1, 7 -> b.get();
            case 2, 3 -> b.getShort();
            case 4, 5, 6 -> b.getInt();
            case 10, 11, 12 -> b.getLong();
            case 8 -> string();
            case 9 -> {
                int element = (int) field(4);
                long n = field(8);
                for (long i = 0; i < n; i++) {
                    if (element == 8) string(); // each string's length is a field; fixed-size elements are data
                    else value(element);
                }
            }
            default -> throw new IllegalArgumentException("type " + type);
        }
    }
}
