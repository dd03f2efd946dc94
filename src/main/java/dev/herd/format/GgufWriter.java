package dev.herd.format;

import dev.herd.tensor.GgmlType;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file. Metadata and the tensor directory are declared first; tensor bytes are produced one tensor
 * at a time while writing, so a converter never holds more than one tensor in memory.
 * Java values map to GGUF types as: Integer → UINT32 (INT32 if negative), Long → UINT64, Float → FLOAT32,
 * Double → FLOAT64, Boolean → BOOL, String → STRING, int[] → INT32 array, float[] → FLOAT32 array,
 * String[] → STRING array, byte[] → UINT8 array, long[] → INT64 array, Byte, Short and their arrays, double[],
 * boolean[]; {@link Typed} for an explicit type. Everything {@link GgufReader} returns can be written back, except
 * arrays of arrays.
 */
public final class GgufWriter {

    /** Produces exactly the declared number of bytes of one tensor. */
    @FunctionalInterface
    public interface TensorSource {
        void write(OutputStream out) throws IOException;
    }

    /** A value with an explicit GGUF type id (for example INT32 = 5 for a small signed number). */
    public record Typed(int type, Object value) {}

    private record Entry(String name, GgmlType type, long[] dims, long bytes, TensorSource source) {}

    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final List<Entry> tensors = new ArrayList<>();
    private final int alignment = GgufReader.DEFAULT_ALIGNMENT;

    public GgufWriter put(String key, Object value) {
        metadata.put(key, value);
        return this;
    }

    /** Declares a tensor; dims fastest-varying first (cols, rows). */
    public GgufWriter tensor(String name, GgmlType type, long[] dims, TensorSource source) {
        long n = 1;
        for (long d : dims) n *= d;
        tensors.add(new Entry(name, type, dims.clone(), type.bytes(n), source));
        return this;
    }

    /** Writes to a temporary file beside {@code path}, then moves it into place, so a failed write leaves no half file. */
    public void write(Path path) throws IOException {
        Path tmp = path.resolveSibling(path.getFileName() + ".part");
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            write(out);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
    }

    public void write(OutputStream raw) throws IOException {
        Out out = new Out(raw);
        out.i32(GgufReader.MAGIC);
        out.i32(3);
        out.i64(tensors.size());
        out.i64(metadata.size());
        for (var e : metadata.entrySet()) {
            out.string(e.getKey());
            out.value(e.getValue());
        }
        long offset = 0;
        for (Entry t : tensors) {
            out.string(t.name);
            out.i32(t.dims.length);
            for (long d : t.dims) out.i64(d);
            out.i32(t.type.id);
            out.i64(offset);
            offset = align(offset + t.bytes);
        }
        out.pad(align(out.count) - out.count);
        for (Entry t : tensors) {
            long before = out.count;
            t.source.write(out);
            long written = out.count - before;
            if (written != t.bytes) {
                throw new IOException("tensor '" + t.name + "': wrote " + written + " bytes, expected " + t.bytes);
            }
            out.pad(align(out.count) - out.count);
        }
        out.flush();
    }

    private long align(long n) {
        return (n + alignment - 1) / alignment * alignment;
    }

    /** Little-endian output that counts bytes. */
    private static final class Out extends OutputStream {
        private final OutputStream out;
        private final ByteBuffer buf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long count;

        Out(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        void i32(int v) throws IOException {
            buf.clear();
            buf.putInt(v);
            write(buf.array(), 0, 4);
        }

        void i64(long v) throws IOException {
            buf.clear();
            buf.putLong(v);
            write(buf.array(), 0, 8);
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            write(b, 0, b.length);
        }

        void pad(long n) throws IOException {
            for (long i = 0; i < n; i++) write(0);
        }

        void value(Object v) throws IOException {
            switch (v) {
                case Typed t -> {
                    i32(t.type());
                    raw(t.type(), t.value());
                }
                case Integer i -> {
                    i32(i < 0 ? 5 : 4);
                    i32(i);
                }
                case Long l -> {
                    i32(10);
                    i64(l);
                }
                case Float f -> {
                    i32(6);
                    i32(Float.floatToRawIntBits(f));
                }
                case Double d -> {
                    i32(12);
                    i64(Double.doubleToRawLongBits(d));
                }
                case Boolean b -> {
                    i32(7);
                    write(b ? 1 : 0);
                }
                case String s -> {
                    i32(8);
                    string(s);
                }
                case Byte b -> {
                    i32(1);
                    write(b);
                }
                case Short x -> {
                    i32(3);
                    write(x & 0xff);
                    write((x >> 8) & 0xff);
                }
                case short[] a -> array(3, a.length, i -> {
                    write(a[i] & 0xff);
                    write((a[i] >> 8) & 0xff);
                });
                case double[] a -> array(12, a.length, i -> i64(Double.doubleToRawLongBits(a[i])));
                case boolean[] a -> array(7, a.length, i -> write(a[i] ? 1 : 0));
                case int[] a -> array(5, a.length, i -> i32(a[i]));
                case float[] a -> array(6, a.length, i -> i32(Float.floatToRawIntBits(a[i])));
                case String[] a -> array(8, a.length, i -> string(a[i]));
                case byte[] a -> array(0, a.length, i -> write(a[i]));
                case long[] a -> array(11, a.length, i -> i64(a[i]));
                default -> throw new IllegalArgumentException("cannot write metadata value of " + v.getClass());
            }
        }

        private void raw(int type, Object v) throws IOException {
            Number n = v instanceof Number x ? x : null;
            switch (type) {
                case 0, 1 -> write(n.intValue());
                case 2, 3 -> {
                    write(n.intValue() & 0xff);
                    write((n.intValue() >> 8) & 0xff);
                }
                case 4, 5 -> i32(n.intValue());
                case 6 -> i32(Float.floatToRawIntBits(n.floatValue()));
                case 7 -> write((Boolean) v ? 1 : 0);
                case 8 -> string((String) v);
                case 10, 11 -> i64(n.longValue());
                case 12 -> i64(Double.doubleToRawLongBits(n.doubleValue()));
                default -> throw new IllegalArgumentException("cannot write GGUF type " + type + " as a plain value");
            }
        }

        private interface Item {
            void write(int i) throws IOException;
        }

        private void array(int type, int n, Item item) throws IOException {
            i32(9);
            i32(type);
            i64(n);
            for (int i = 0; i < n; i++) item.write(i);
        }
    }

    /** F32 bytes of a float array. */
    public static TensorSource f32(float[] values) {
        return out -> {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            out.write(b.array());
        };
    }
}
