package dev.herd.format;

import dev.herd.HerdException;
import dev.herd.codec.Codecs;
import dev.herd.model.ModelTensor;
import dev.herd.model.Weights;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * An open GGUF file: its metadata and tensor directory, with the tensor data memory-mapped (no copy).
 * Metadata values are Java objects: Byte, Short, Integer, Long (unsigned kept as bit patterns), Float, Double,
 * Boolean, String, and arrays of those (byte[], short[], int[], long[], float[], double[], boolean[], String[]);
 * arrays of arrays are refused when reading, as ggml refuses them.
 */
public final class GgufFile implements AutoCloseable {

    /** One tensor's directory entry; dims as GGUF stores them, fastest-varying first. */
    public record TensorInfo(String name, long[] dims, GgmlType type, int typeId, long offset, long bytes) {
        public long elements() {
            long n = 1;
            for (long d : dims) n *= d;
            return n;
        }
    }

    private final Path path;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;
    private final MemorySegment data;
    private final Map<String, MemorySegment> computed;
    private final Arena arena;

    GgufFile(Path path, int version, Map<String, Object> metadata, Map<String, TensorInfo> tensors,
             MemorySegment data, Arena arena) {
        this(path, version, metadata, tensors, data, Map.of(), arena);
    }

    /** {@code computed} holds tensors that live in memory instead of the file (rope factors derived from a header). */
    GgufFile(Path path, int version, Map<String, Object> metadata, Map<String, TensorInfo> tensors,
             MemorySegment data, Map<String, MemorySegment> computed, Arena arena) {
        this.path = path;
        this.computed = computed;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.data = data;
        this.arena = arena;
    }

    public static GgufFile open(Path path) {
        return GgufReader.read(path);
    }

    /** The metadata and tensor directory, mapping only the header (seconds on any size): tensor data cannot be read. */
    public static GgufFile header(Path path) {
        return GgufReader.header(path);
    }

    /**
     * The header a file of these tensors would have, without a file: tensor data cannot be read. Offsets are
     * consecutive from 0, each aligned as GGUF's default alignment requires.
     */
    public static GgufFile described(Path name, Map<String, Object> metadata, List<ModelTensor.Spec> tensors,
                                     Function<ModelTensor.Spec, GgmlType> types) {
        Map<String, TensorInfo> dir = newDirectory();
        long offset = 0, align = GgufReader.DEFAULT_ALIGNMENT;
        for (ModelTensor.Spec s : tensors) {
            GgmlType type = types.apply(s);
            long bytes = type.bytes(s.elements());
            dir.put(s.name(), new TensorInfo(s.name(), s.dims(), type, type.id, offset, bytes));
            offset = (offset + bytes + align - 1) / align * align;
        }
        return new GgufFile(name, 3, new LinkedHashMap<>(metadata), dir, MemorySegment.NULL, null);
    }

    /** Whether the file starts with GGUF's magic, whatever its name. */
    public static boolean isGguf(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(4), new byte[]{'G', 'G', 'U', 'F'});
        } catch (IOException e) {
            throw new HerdException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public String string(String key) {
        return (String) require(key, String.class);
    }

    public String string(String key, String fallback) {
        Object v = metadata.get(key);
        return v instanceof String s ? s : fallback;
    }

    /** An integral value of any width. */
    public long integer(String key) {
        Object v = require(key, Number.class);
        if (v instanceof Float || v instanceof Double) throw wrongType(key, v, "an integer");
        return ((Number) v).longValue();
    }

    public long integer(String key, long fallback) {
        return metadata.containsKey(key) ? integer(key) : fallback;
    }

    public float real(String key, float fallback) {
        Object v = metadata.get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.floatValue();
        throw wrongType(key, v, "a number");
    }

    @SuppressWarnings("unchecked")
    public <T> T array(String key, Class<T> arrayType) {
        return (T) require(key, arrayType);
    }

    private Object require(String key, Class<?> type) {
        Object v = metadata.get(key);
        if (v == null) throw new HerdException(path + ": metadata key '" + key + "' is missing");
        if (!type.isInstance(v)) throw wrongType(key, v, type.getSimpleName());
        return v;
    }

    private HerdException wrongType(String key, Object v, String expected) {
        return new HerdException(path + ": metadata key '" + key + "' holds " + v.getClass().getSimpleName() + ", expected " + expected);
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    /** The tensors as a source of a model's weights. */
    public Weights.Source source() {
        return new Weights.Source(this::tensor, this::hasTensor, path.toString());
    }

    /** The tensor as a matrix over the mapped file; fails for types Herd does not compute with. */
    public Tensor tensor(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) throw new HerdException(path + ": tensor " + FileText.quote(name) + " is missing");
        if (!Codecs.reads(info.type())) {
            String type = info.type() == null ? "type id " + info.typeId() : info.type().name();
            throw new HerdException(path + ": tensor " + FileText.quote(name) + " has type " + type
                    + ", which Herd does not read (it reads " + Codecs.names() + ")");
        }
        long[] d = info.dims();
        long cols = d[0];
        long rows = info.elements() / Math.max(cols, 1);
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new HerdException(path + ": tensor " + FileText.quote(name) + " is too large (" + rows + " x " + cols + ")");
        }
        return new Tensor(name, info.type(), (int) rows, (int) cols, slice(info));
    }

    /** Raw bytes of a tensor, whatever its type. */
    public MemorySegment bytes(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) throw new HerdException(path + ": tensor " + FileText.quote(name) + " is missing");
        return slice(info);
    }

    private MemorySegment slice(TensorInfo info) {
        MemorySegment m = computed.get(info.name());
        return m != null ? m : data.asSlice(info.offset(), info.bytes());
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
    }

    static Map<String, TensorInfo> newDirectory() {
        return new LinkedHashMap<>();
    }
}
