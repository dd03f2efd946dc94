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
import java.util.List;
import java.util.Map;

/**
 * GGUF to GGUF with another weight type: every matrix ({@code .weight} with two dimensions) is decoded and encoded
 * row by row; vectors (norms), matrices already of the target type and everything else are copied byte for byte.
 * Metadata is kept, {@code general.file_type} updated.
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
            GgufWriter w = new GgufWriter();
            f.metadata().forEach(w::put);
            w.put("general.file_type", target.fileType());
            WeightTypes.Model model = model(f);
            extra.forEach(w::put);
            var infos = f.tensors().values();
            long total = 0;
            for (GgufFile.TensorInfo t : infos) {
                if (t.type() == null) throw new HerdException(in + ": tensor " + FileText.quote(t.name()) + " has unknown type id " + t.typeId());
                GgmlType type = typeOf(t, target, model);
                if (type != t.type() && !Codecs.reads(t.type())) {
                    throw new HerdException(in + ": tensor " + FileText.quote(t.name()) + " is " + t.type()
                            + ", which Herd cannot requantize (it reads " + Codecs.names() + ")");
                }
                total += type.bytes(t.elements());
            }
            Progress.Tracker tracker = progress.tracker(infos.size(), total);
            for (GgufFile.TensorInfo t : infos) {
                GgmlType type = typeOf(t, target, model);
                w.tensor(t.name(), type, t.dims(), o -> {
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
                    tracker.tensorDone();
                });
            }
            w.write(out);
        } catch (IOException e) {
            throw new HerdException(out + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Matrices (and stacked experts) whose rows hold whole blocks of the type chosen for them take it; the rest keep
     * theirs, as does a router or a shared expert's gate (llama.cpp never quantizes one).
     */
    private static final List<ModelTensor> ROUTERS = ModelTensor.layerTensors().stream().filter(m -> m.kind == ModelTensor.Kind.ROUTER).toList();

    private static GgmlType typeOf(GgufFile.TensorInfo t, WeightTypes target, WeightTypes.Model model) {
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
