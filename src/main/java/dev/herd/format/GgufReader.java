package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.tensor.GgmlType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parses a GGUF (v2, v3) header from a memory-mapped file, checking every length against the file size. The mapping
 * may be only the file's first bytes ({@link #header}): then only the header is read, however large the file.
 */
final class GgufReader {
    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final int DEFAULT_ALIGNMENT = 32;

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final MemorySegment file;
    private final long size;
    private long pos;

    private GgufReader(Path path, MemorySegment file, long size) {
        this.path = path;
        this.file = file;
        this.size = size;
    }

    static GgufFile read(Path path) {
        return Mapped.open(path, (file, size, arena) -> new GgufReader(path, file, size).parse(arena));
    }

    /** The metadata and tensor directory, mapping only the header: the tensors' data cannot be read from the result. */
    static GgufFile header(Path path) {
        return Mapped.head(path, (file, size, arena) -> new GgufReader(path, file, size).parse(arena));
    }

    private GgufFile parse(Arena arena) {
        if (size < 4) throw error("file is too short to be GGUF (" + size + " bytes)");
        int magic = i32();
        if (magic != MAGIC) throw error(String.format("not a GGUF file (magic 0x%08x, expected 0x%08x \"GGUF\")", magic, MAGIC));
        int version = i32();
        if (version != 2 && version != 3) throw error("GGUF version " + version + " is not supported (2 and 3 are)");
        long tensorCount = limit(count(i64(), 32, "tensor count"), Limits.MAX_TENSORS, "tensor count");
        long kvCount = limit(count(i64(), 12, "metadata count"), Limits.MAX_METADATA, "metadata count");

        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = string();
            int type = i32();
            if (metadata.put(key, value(type, key)) != null) throw error("metadata key " + FileText.quote(key) + " appears twice");
        }

        long alignment = DEFAULT_ALIGNMENT;
        if (metadata.get("general.alignment") instanceof Number n) {
            alignment = n.longValue();
            if (alignment <= 0 || alignment > 1 << 20 || (alignment & (alignment - 1)) != 0) {
                throw error("general.alignment " + alignment + " is not a power of two up to 1 MiB");
            }
        }

        record Raw(String name, long[] dims, int typeId, long offset) {}
        Raw[] raw = new Raw[(int) tensorCount];
        for (int i = 0; i < tensorCount; i++) {
            String name = string();
            int nDims = i32();
            if (nDims < 1 || nDims > 4) throw error("tensor " + FileText.quote(name) + " has " + nDims + " dimensions (1 to 4 allowed)");
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = i64();
                if (dims[d] <= 0) throw error("tensor " + FileText.quote(name) + " has dimension " + dims[d]);
            }
            raw[i] = new Raw(name, dims, i32(), i64());
        }
        long dataStart = (pos + alignment - 1) / alignment * alignment;

        Map<String, GgufFile.TensorInfo> tensors = GgufFile.newDirectory();
        for (Raw r : raw) {
            String name = FileText.quote(r.name);
            GgmlType type = GgmlType.byId(r.typeId);
            long bytes = 0; // a type Herd does not know has no known size; using such a tensor fails in GgufFile
            if (type != null) {
                if (r.dims[0] % type.blockSize != 0) {
                    throw error("tensor " + name + " of type " + type + " has a row of " + r.dims[0] + " elements, not a multiple of " + type.blockSize);
                }
                bytes = tensorBytes(type, r.dims);
                if (bytes < 0) throw error("tensor " + name + " has dimensions " + Arrays.toString(r.dims) + " larger than the file");
            }
            if (r.offset < 0 || r.offset % alignment != 0) throw error("tensor " + name + " has a negative or misaligned offset " + r.offset);
            if (r.offset > size - dataStart - bytes) {
                throw error("tensor " + name + " ends past the end of the file (" + size + " bytes; data starts at byte "
                        + dataStart + ", tensor at offset " + r.offset + ", " + bytes + " bytes): the file is truncated or corrupt");
            }
            if (tensors.put(r.name, new GgufFile.TensorInfo(r.name, r.dims, type, r.typeId, dataStart + r.offset, bytes)) != null) {
                throw error("tensor " + name + " appears twice");
            }
        }
        return new GgufFile(path, version, metadata, tensors, file, arena);
    }

    private Object value(int type, String key) {
        return switch (type) {
            case 0, 1 -> u8();
            case 2, 3 -> { need(2); short v = file.get(I16, pos); pos += 2; yield v; }
            case 4, 5 -> i32();
            case 6 -> { need(4); float v = file.get(F32, pos); pos += 4; yield v; }
            case 7 -> u8() != 0;
            case 8 -> string();
            case 9 -> array(key);
            case 10, 11 -> i64();
            case 12 -> { need(8); double v = file.get(F64, pos); pos += 8; yield v; }
            default -> throw error("metadata key " + FileText.quote(key) + " has unknown value type " + type);
        };
    }

    /** Arrays of arrays are refused, as ggml refuses them: nothing recurses on file data. */
    private Object array(String key) {
        int type = i32();
        long n = i64();
        int minSize = switch (type) {
            case 0, 1, 7 -> 1;
            case 2, 3 -> 2;
            case 4, 5, 6 -> 4;
            case 8, 10, 11, 12 -> 8;
            case 9 -> throw error("metadata array " + FileText.quote(key) + " holds arrays: nested arrays are not supported");
            default -> throw error("metadata array " + FileText.quote(key) + " has unknown element type " + type);
        };
        int len = (int) limit(count(n, minSize, "array " + FileText.quote(key) + " length"), Limits.MAX_ARRAY, "array " + FileText.quote(key) + " length");
        if (type != 8) need((long) len * minSize);
        switch (type) {
            case 0, 1 -> {
                byte[] a = new byte[len];
                MemorySegment.copy(file, ValueLayout.JAVA_BYTE, pos, a, 0, len);
                pos += len;
                return a;
            }
            case 2, 3 -> {
                short[] a = new short[len];
                MemorySegment.copy(file, I16, pos, a, 0, len);
                pos += 2L * len;
                return a;
            }
            case 4, 5 -> {
                int[] a = new int[len];
                MemorySegment.copy(file, I32, pos, a, 0, len);
                pos += 4L * len;
                return a;
            }
            case 6 -> {
                float[] a = new float[len];
                MemorySegment.copy(file, F32, pos, a, 0, len);
                pos += 4L * len;
                return a;
            }
            case 7 -> {
                boolean[] a = new boolean[len];
                for (int i = 0; i < len; i++) a[i] = u8() != 0;
                return a;
            }
            case 8 -> {
                String[] a = new String[len];
                for (int i = 0; i < len; i++) a[i] = string();
                return a;
            }
            case 10, 11 -> {
                long[] a = new long[len];
                MemorySegment.copy(file, I64, pos, a, 0, len);
                pos += 8L * len;
                return a;
            }
            default -> {
                double[] a = new double[len];
                MemorySegment.copy(file, F64, pos, a, 0, len);
                pos += 8L * len;
                return a;
            }
        }
    }

    /** Bytes of a tensor of these dimensions, or -1 when that is more than the file could hold (or overflows). */
    private long tensorBytes(GgmlType type, long[] dims) {
        long elements = 1;
        for (long d : dims) {
            if (d > size * 8 / elements) return -1; // every ggml type stores fewer than 8 elements per byte
            elements *= d;
        }
        return type.bytes(elements);
    }

    private long limit(long n, long max, String what) {
        if (n > max) throw error(what + " " + n + " is over the limit of " + max);
        return n;
    }

    /** Checks that {@code n} items of at least {@code minSize} bytes can still fit in the file. */
    private long count(long n, int minSize, String what) {
        if (n < 0 || n > (size - pos) / minSize) {
            throw error(what + " " + Long.toUnsignedString(n) + " does not fit in the file: truncated or corrupt");
        }
        return n;
    }

    private String string() {
        long len = i64();
        if (len < 0 || len > size - pos) throw error("string of length " + Long.toUnsignedString(len) + " at byte " + (pos - 8) + " runs past the end of the file: truncated or corrupt");
        if (len > Limits.MAX_STRING_BYTES) throw error("string of length " + len + " at byte " + (pos - 8) + " is over the limit of " + Limits.MAX_STRING_BYTES + " bytes");
        need(len);
        byte[] b = new byte[(int) len];
        MemorySegment.copy(file, ValueLayout.JAVA_BYTE, pos, b, 0, b.length);
        pos += len;
        return new String(b, StandardCharsets.UTF_8);
    }

    private byte u8() {
        need(1);
        return file.get(ValueLayout.JAVA_BYTE, pos++);
    }

    private int i32() {
        need(4);
        int v = file.get(I32, pos);
        pos += 4;
        return v;
    }

    private long i64() {
        need(8);
        long v = file.get(I64, pos);
        pos += 8;
        return v;
    }

    private void need(long n) {
        if (n > size - pos) throw error("unexpected end of file at byte " + pos + ": truncated or corrupt");
        if (n > file.byteSize() - pos) throw new Mapped.WindowTooSmall();
    }

    private HerdException error(String message) {
        return new HerdException(path + ": " + message);
    }
}
