package dev.herd.format;

import dev.herd.codec.Codecs;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.HerdException;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Hugging Face safetensors: one file, or a folder (sharded through model.safetensors.index.json, or every
 * *.safetensors file in it). Opening reads only the headers; callers map a window of a tensor at a time
 * into an arena they close, so resident memory stays at one window, not the model.
 */
public final class Safetensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Integer> SIZES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1),
            Map.entry("U64", 8), Map.entry("U32", 4), Map.entry("U16", 2), Map.entry("U8", 1), Map.entry("BOOL", 1),
            Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1));

    /** One tensor: dtype as safetensors names it, shape slowest-first, and where its bytes lie in its file. */
    public record Entry(String name, String dtype, long[] shape, Path file, long offset, long bytes) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private final Path path;
    private final Map<String, Entry> tensors;

    private Safetensors(Path path, Map<String, Entry> tensors) {
        this.path = path;
        this.tensors = tensors;
    }

    public static Safetensors open(Path path) {
        Map<String, Entry> tensors = new LinkedHashMap<>();
        for (Path file : files(path)) parse(file, tensors);
        return new Safetensors(path, tensors);
    }

    public Path path() {
        return path;
    }

    public Map<String, Entry> tensors() {
        return tensors;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Entry get(String name) {
        Entry e = tensors.get(name);
        if (e == null) throw new HerdException(path + ": tensor '" + name + "' is missing");
        return e;
    }

    /** Checks that the tensor holds floats Herd can read (F32, F16, BF16). */
    public static GgmlType floatType(Entry e) {
        return switch (e.dtype) {
            case "F32" -> GgmlType.F32;
            case "F16" -> GgmlType.F16;
            case "BF16" -> GgmlType.BF16;
            default -> throw new HerdException(e.file + ": tensor " + FileText.quote(e.name) + " has dtype " + FileText.quote(e.dtype)
                    + ", which Herd cannot convert (supported: F32, F16, BF16)");
        };
    }

    /** Maps {@code bytes} bytes of the tensor from byte {@code from} (memory-mapped, unmapped when {@code arena} closes). */
    public static MemorySegment map(Entry e, long from, long bytes, Arena arena) {
        try (FileChannel ch = FileChannel.open(e.file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, e.offset + from, bytes, arena);
        } catch (IOException x) {
            throw new HerdException(e.file + ": cannot read (" + x.getMessage() + ")", x);
        }
    }

    /** Reads {@code n} elements as F32 from element {@code from} of a window mapped with {@link #map}. */
    public static void read(Entry e, MemorySegment window, long from, float[] dst, int off, int n) {
        GgmlType t = floatType(e);
        Codecs.of(t).decode(window, from * t.bytes(1), dst, off, n);
    }

    private static Iterable<Path> files(Path path) {
        if (!Files.exists(path)) throw new HerdException(path + ": no such file or folder");
        if (!Files.isDirectory(path)) return List.of(path);
        Path index = path.resolve("model.safetensors.index.json");
        TreeSet<Path> files = new TreeSet<>();
        if (Files.exists(index)) {
            JsonNode map = json(index).path("weight_map");
            if (!map.isObject() || map.isEmpty()) throw new HerdException(index + ": has no weight_map");
            map.forEach(shard -> {
                Path file = shard(path, index, shard.asText());
                if (!Files.exists(file)) throw new HerdException(index + ": lists shard " + FileText.quote(shard.asText()) + ", which is missing");
                files.add(file);
            });
        } else {
            try (Stream<Path> list = Files.list(path)) {
                list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).forEach(files::add);
            } catch (IOException e) {
                throw new HerdException(path + ": cannot list (" + e.getMessage() + ")", e);
            }
            if (files.isEmpty()) throw new HerdException(path + ": no *.safetensors files");
        }
        return files;
    }

    private static Path shard(Path dir, Path index, String name) {
        try {
            return dir.resolve(name);
        } catch (InvalidPathException e) {
            throw new HerdException(index + ": lists shard " + FileText.quote(name) + ", which is not a file name");
        }
    }

    /** Reads a JSON file (config.json, an index), failing with a message that names it. */
    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new HerdException(file + ": not valid JSON (" + FileText.line(e.getMessage()) + ")", e);
        }
    }

    private static void parse(Path file, Map<String, Entry> out) {
        long size;
        byte[] headerBytes;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            size = ch.size();
            if (size < 8) throw new HerdException(file + ": too short for a safetensors file (" + size + " bytes)");
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(length, 0);
            long n = length.getLong(0);
            if (n <= 0 || n > size - 8 || n > 100_000_000) {
                throw new HerdException(file + ": bad safetensors header length " + Long.toUnsignedString(n)
                        + " (file has " + size + " bytes): not a safetensors file, or truncated");
            }
            ByteBuffer h = ByteBuffer.allocate((int) n);
            while (h.hasRemaining()) if (ch.read(h, 8 + h.position()) < 0) break;
            headerBytes = h.array();
        } catch (NoSuchFileException e) {
            throw new HerdException(file + ": no such file");
        } catch (IOException e) {
            throw new HerdException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        JsonNode header;
        try {
            header = JSON.readTree(headerBytes);
        } catch (IOException e) {
            throw new HerdException(file + ": bad safetensors header: not valid JSON", e);
        }
        if (header == null || !header.isObject()) throw new HerdException(file + ": bad safetensors header: not a JSON object");
        long dataStart = 8 + headerBytes.length;
        for (var it = header.properties().iterator(); it.hasNext(); ) {
            var field = it.next();
            if (field.getKey().equals("__metadata__")) continue;
            Entry e = entry(file, field.getKey(), field.getValue(), dataStart, size - dataStart);
            if (out.put(e.name, e) != null) throw new HerdException(file + ": tensor " + FileText.quote(e.name) + " appears twice");
        }
    }

    /** A whole number that fits a long, or -1. */
    private static long integer(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToLong() ? n.asLong() : -1;
    }

    private static Entry entry(Path file, String name, JsonNode n, long dataStart, long dataBytes) {
        JsonNode shapeNode = n.path("shape"), offsets = n.path("data_offsets");
        String dtype = n.path("dtype").asText(null);
        if (dtype == null || !shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
            throw new HerdException(file + ": bad safetensors header: tensor " + FileText.quote(name) + " lacks dtype, shape or data_offsets");
        }
        Integer size = SIZES.get(dtype);
        if (size == null) throw new HerdException(file + ": tensor " + FileText.quote(name) + " has unknown dtype " + FileText.quote(dtype));
        String quoted = FileText.quote(name);
        if (shapeNode.size() > 8) throw new HerdException(file + ": tensor " + quoted + " has " + shapeNode.size() + " dimensions (8 at most)");
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = integer(shapeNode.get(i));
            if (shape[i] < 0) throw new HerdException(file + ": tensor " + quoted + " has a bad shape " + FileText.quote(shapeNode.toString()));
            if (shape[i] > 0 && elements > dataBytes / shape[i]) {
                throw new HerdException(file + ": tensor " + quoted + " has shape " + FileText.quote(shapeNode.toString())
                        + ", more elements than the file holds bytes (" + dataBytes + ")");
            }
            elements *= shape[i];
        }
        long begin = integer(offsets.get(0)), end = integer(offsets.get(1));
        if (begin < 0 || end < begin || end > dataBytes) {
            throw new HerdException(file + ": tensor " + quoted + " data_offsets " + FileText.quote(offsets.toString()) + " run past the end of the data ("
                    + dataBytes + " bytes): the file is truncated or corrupt");
        }
        if (elements * size != end - begin) {
            throw new HerdException(file + ": tensor " + quoted + " has shape " + FileText.quote(shapeNode.toString()) + " of " + dtype + " (" + elements * size
                    + " bytes), but its data_offsets span " + (end - begin) + " bytes");
        }
        return new Entry(name, dtype, shape, file, dataStart + begin, end - begin);
    }
}
