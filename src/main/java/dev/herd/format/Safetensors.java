package dev.herd.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.HerdException;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Hugging Face safetensors: one file, or a folder (sharded through model.safetensors.index.json, or every
 * *.safetensors file in it). Files are memory-mapped; tensors are read as F32 a slice at a time.
 */
public final class Safetensors implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Integer> SIZES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1),
            Map.entry("U64", 8), Map.entry("U32", 4), Map.entry("U16", 2), Map.entry("U8", 1), Map.entry("BOOL", 1),
            Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1));

    /** One tensor: dtype as safetensors names it, shape slowest-first, and its bytes in the mapped file. */
    public record Entry(String name, String dtype, long[] shape, MemorySegment data, Path file) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private final Path path;
    private final Map<String, Entry> tensors;
    private final Arena arena;

    private Safetensors(Path path, Map<String, Entry> tensors, Arena arena) {
        this.path = path;
        this.tensors = tensors;
        this.arena = arena;
    }

    public static Safetensors open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            Map<String, Entry> tensors = new LinkedHashMap<>();
            for (Path file : files(path)) parse(file, arena, tensors);
            return new Safetensors(path, tensors, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
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
            default -> throw new HerdException(e.file + ": tensor '" + e.name + "' has dtype " + e.dtype
                    + ", which Herd cannot convert (supported: F32, F16, BF16)");
        };
    }

    /** Reads {@code n} elements starting at element {@code from} as F32. */
    public static void read(Entry e, long from, float[] dst, int off, int n) {
        GgmlType t = floatType(e);
        Quantizer.decode(t, e.data, from * t.bytes(1), dst, off, n);
    }

    @Override
    public void close() {
        arena.close();
    }

    private static Iterable<Path> files(Path path) {
        if (!Files.exists(path)) throw new HerdException(path + ": no such file or folder");
        if (!Files.isDirectory(path)) return java.util.List.of(path);
        Path index = path.resolve("model.safetensors.index.json");
        TreeSet<Path> files = new TreeSet<>();
        if (Files.exists(index)) {
            JsonNode map = json(index).path("weight_map");
            if (!map.isObject() || map.isEmpty()) throw new HerdException(index + ": has no weight_map");
            map.forEach(shard -> {
                Path file = path.resolve(shard.asText());
                if (!Files.exists(file)) throw new HerdException(index + ": lists shard '" + shard.asText() + "', which is missing");
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

    /** Reads a JSON file (config.json, an index), failing with a message that names it. */
    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new HerdException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
    }

    private static void parse(Path file, Arena arena, Map<String, Entry> out) {
        MemorySegment map;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (NoSuchFileException e) {
            throw new HerdException(file + ": no such file");
        } catch (IOException e) {
            throw new HerdException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        long size = map.byteSize();
        if (size < 8) throw new HerdException(file + ": too short for a safetensors file (" + size + " bytes)");
        long headerLength = map.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength <= 0 || headerLength > size - 8 || headerLength > 100_000_000) {
            throw new HerdException(file + ": bad safetensors header length " + Long.toUnsignedString(headerLength)
                    + " (file has " + size + " bytes): not a safetensors file, or truncated");
        }
        JsonNode header;
        try {
            header = JSON.readTree(map.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE));
        } catch (IOException e) {
            throw new HerdException(file + ": bad safetensors header: not valid JSON", e);
        }
        if (header == null || !header.isObject()) throw new HerdException(file + ": bad safetensors header: not a JSON object");
        MemorySegment data = map.asSlice(8 + headerLength);
        for (var it = header.properties().iterator(); it.hasNext(); ) {
            var field = it.next();
            if (field.getKey().equals("__metadata__")) continue;
            Entry e = entry(file, field.getKey(), field.getValue(), data);
            if (out.put(e.name, e) != null) throw new HerdException(file + ": tensor '" + e.name + "' appears twice");
        }
    }

    private static Entry entry(Path file, String name, JsonNode n, MemorySegment data) {
        JsonNode shapeNode = n.path("shape"), offsets = n.path("data_offsets");
        String dtype = n.path("dtype").asText(null);
        if (dtype == null || !shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
            throw new HerdException(file + ": bad safetensors header: tensor '" + name + "' lacks dtype, shape or data_offsets");
        }
        Integer size = SIZES.get(dtype);
        if (size == null) throw new HerdException(file + ": tensor '" + name + "' has unknown dtype " + dtype);
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong(-1);
            if (shape[i] < 0) throw new HerdException(file + ": tensor '" + name + "' has a bad shape " + shapeNode);
            elements = Math.multiplyExact(elements, shape[i]);
        }
        long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
        if (begin < 0 || end < begin || end > data.byteSize()) {
            throw new HerdException(file + ": tensor '" + name + "' data_offsets " + offsets + " run past the end of the data ("
                    + data.byteSize() + " bytes): the file is truncated or corrupt");
        }
        if (elements * size != end - begin) {
            throw new HerdException(file + ": tensor '" + name + "' has shape " + shapeNode + " of " + dtype + " (" + elements * size
                    + " bytes), but its data_offsets span " + (end - begin) + " bytes");
        }
        return new Entry(name, dtype, shape, data.asSlice(begin, end - begin), file);
    }
}
