package dev.herd.convert;

import dev.herd.HerdException;
import dev.herd.codec.Codecs;
import dev.herd.format.FileText;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.format.Quantizer;
import dev.herd.model.Arch;
import dev.herd.model.ModelTensor;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * GGUF to GGUF with another weight type: every matrix ({@code .weight} with two dimensions) is decoded and encoded
 * row by row; vectors (norms), matrices already of the target type and everything else are copied byte for byte.
 * Metadata is kept, {@code general.file_type} updated. A mixture whose experts are tensors of their own (llama.cpp's
 * layout before April 2024) is written stacked, as llama.cpp writes it today and Herd reads it.
 */
public final class GgufRequantizer {
    private GgufRequantizer() {}

    /** {@code extra} metadata (for example a tokenizer's) is added last and wins over the file's own entries. */
    public static void convert(Path in, Path out, GgmlType target, Map<String, Object> extra, Progress progress) {
        convert(in, out, WeightTypes.of(target), extra, progress);
    }

    /** As above, each matrix in the type {@code target} chooses for it. */
    public static void convert(Path in, Path out, WeightTypes target, Map<String, Object> extra, Progress progress) {
        try (GgufFile f = GgufFile.open(in)) {
            convert(f, out, target, extra, progress);
        }
    }

    /** An open file (a GGUF, or a .m seen as one) to the GGUF {@code out}. */
    public static void convert(GgufFile f, Path out, WeightTypes target, Map<String, Object> extra, Progress progress) {
        Path in = f.path();
        GgufWriter w = new GgufWriter();
        f.metadata().forEach(w::put);
        if (target != WeightTypes.KEEP) w.put("general.file_type", target.fileType());
        WeightTypes.Model model = model(f);
        extra.forEach(w::put);
        List<Output> outputs = outputs(f);
        long total = 0;
        for (Output o : outputs) {
            GgufFile.TensorInfo t = o.parts.getFirst();
            if (t.type() == null) throw new HerdException(in + ": tensor " + FileText.quote(t.name()) + " has unknown type id " + t.typeId());
            GgmlType type = typeOf(t, target, model);
            if (type != t.type() && !Codecs.reads(t.type())) {
                throw new HerdException(in + ": tensor " + FileText.quote(t.name()) + " is " + t.type()
                        + ", which Herd cannot requantize (it reads " + Codecs.names() + ")");
            }
            total += type.bytes(t.elements()) * o.parts.size();
        }
        Progress.Tracker tracker = progress.tracker(outputs.size(), total);
        for (Output tensor : outputs) {
            GgmlType type = typeOf(tensor.parts.getFirst(), target, model);
            w.tensor(tensor.name, type, tensor.dims, o -> {
                for (GgufFile.TensorInfo t : tensor.parts) {
                    int cols = (int) t.dims()[0];
                    long rows = t.elements() / cols, rowBytes = t.type().bytes(cols);
                    var src = f.bytes(t.name());
                    float[] row = new float[cols];
                    byte[] buf = new byte[(int) type.bytes(cols)];
                    for (long r = 0; r < rows; r++) {
                        if (type == t.type()) { // kept: copied byte for byte, whatever the type
                            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, r * rowBytes, buf, 0, buf.length);
                        } else {
                            Codecs.of(t.type()).decode(src, r * rowBytes, row, 0, cols);
                            Quantizer.encode(type, row, 0, cols, buf, 0);
                        }
                        o.write(buf);
                        tracker.add(buf.length);
                    }
                }
                tracker.tensorDone();
            });
        }
        try {
            w.write(out);
        } catch (IOException e) {
            throw new HerdException(out + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    /** A tensor to write: the file's own, or a mixture's experts stacked from tensors of their own (parts in expert order). */
    private record Output(String name, long[] dims, List<GgufFile.TensorInfo> parts) {}

    /**
     * The tensors to write, in the file's order; llama.cpp's old layout of a mixture ({@link ModelTensor.ExpertTensor},
     * one tensor per expert) becomes today's stacked one (dims {cols, rows, experts}) where the first expert's tensor
     * was. The experts of one tensor must share shape and type.
     */
    private static List<Output> outputs(GgufFile f) {
        List<Output> outputs = new ArrayList<>();
        Map<String, SortedMap<Integer, GgufFile.TensorInfo>> experts = new LinkedHashMap<>();
        for (GgufFile.TensorInfo t : f.tensors().values()) {
            ModelTensor.ExpertTensor e = ModelTensor.ExpertTensor.of(t.name());
            if (e == null) {
                outputs.add(new Output(t.name(), t.dims(), List.of(t)));
                continue;
            }
            if (!experts.containsKey(e.stacked())) {
                experts.put(e.stacked(), new TreeMap<>());
                outputs.add(new Output(e.stacked(), null, null)); // placed where its first expert was, stacked below
            }
            experts.get(e.stacked()).put(e.expert(), t);
        }
        int count = (int) f.integer(f.string("general.architecture", "") + ".expert_count", 0);
        return outputs.stream().map(o -> o.parts != null ? o : stacked(f, o.name, experts.get(o.name), count)).toList();
    }

    /** The experts of {@code name}, by number, as one stacked tensor: count of them (when the metadata gives it, else as many as numbered). */
    private static Output stacked(GgufFile f, String name, SortedMap<Integer, GgufFile.TensorInfo> experts, int count) {
        int n = count > 0 ? count : experts.lastKey() + 1;
        if (experts.lastKey() >= n) throw new HerdException(f.path() + ": '" + name + "' has an expert " + experts.lastKey() + " but the file declares " + n + " experts");
        for (int e = 0; e < n; e++) {
            if (!experts.containsKey(e)) throw new HerdException(f.path() + ": expert " + e + " of '" + name + "' is missing");
        }
        List<GgufFile.TensorInfo> parts = List.copyOf(experts.values());
        GgufFile.TensorInfo first = parts.getFirst();
        for (GgufFile.TensorInfo t : parts) {
            if (t.type() != first.type() || t.dims().length != 2 || !Arrays.equals(t.dims(), first.dims())) {
                throw new HerdException(f.path() + ": the experts of '" + name + "' differ in shape or type ('" + t.name() + "')");
            }
        }
        return new Output(name, new long[]{first.dims()[0], first.dims()[1], parts.size()}, parts);
    }

    private static final List<ModelTensor> ROUTERS = ModelTensor.layerTensors().stream().filter(m -> m.kind == ModelTensor.Kind.ROUTER).toList();

    /**
     * Matrices (and stacked experts) whose rows hold whole blocks of the type chosen for them take it; the rest keep
     * theirs, as does a router or a shared expert's gate (llama.cpp never quantizes one).
     */
    private static GgmlType typeOf(GgufFile.TensorInfo t, WeightTypes target, WeightTypes.Model model) {
        if (target == WeightTypes.KEEP) return t.type();
        if (t.dims().length < 2 || !t.name().endsWith(".weight") || ROUTERS.stream().anyMatch(r -> t.name().endsWith("." + r.gguf))) return t.type();
        GgmlType type = target.typeOf(t.name(), t.dims()[0], model);
        return t.dims()[0] % type.blockSize == 0 ? type : t.type();
    }

    /** What llama.cpp's choice of types depends on, from the file's metadata and tensors. */
    private static WeightTypes.Model model(GgufFile f) {
        String arch = f.string("general.architecture", "");
        int layers = (int) f.integer(arch + ".block_count", 0);
        long heads = f.integer(arch + ".attention.head_count", 0);
        boolean gqa = f.integer(arch + ".attention.head_count_kv", heads) != heads;
        return new WeightTypes.Model(layers, !f.hasTensor(ModelTensor.OUTPUT.gguf), Arch.ofGguf(arch) == Arch.LLAMA && layers == 80 && gqa);
    }
}
