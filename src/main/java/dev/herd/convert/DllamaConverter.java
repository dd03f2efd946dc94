package dev.herd.convert;

import dev.herd.HerdException;
import dev.herd.format.DllamaModel;
import dev.herd.format.DllamaTokenizerFile;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

/** distributed-llama .m (+ .t) to GGUF: the model's blocks are already ggml's, so tensors are copied as they are. */
public final class DllamaConverter {
    private static final int CHUNK = 1 << 20;

    private DllamaConverter() {}

    /** {@code tokenizer} may be null: the GGUF then has no tokenizer entries. */
    public static void convert(Path model, Path tokenizer, Path out, Progress progress) {
        Map<String, Object> tok = tokenizer == null ? Map.of() : DllamaTokenizerFile.read(tokenizer).metadata();
        try (GgufFile f = DllamaModel.open(model, tok)) {
            write(f, out, progress);
        }
    }

    /** Writes an open GGUF view (whose metadata values GgufWriter can write) to {@code out}, streaming each tensor. */
    public static void write(GgufFile f, Path out, Progress progress) {
        GgufWriter w = new GgufWriter();
        f.metadata().forEach(w::put);
        var infos = f.tensors().values();
        Progress.Tracker tracker = progress.tracker(infos.size(), infos.stream().mapToLong(GgufFile.TensorInfo::bytes).sum());
        for (GgufFile.TensorInfo t : infos) {
            w.tensor(t.name(), t.type(), t.dims(), o -> {
                MemorySegment src = f.bytes(t.name());
                byte[] buf = new byte[(int) Math.min(CHUNK, src.byteSize())];
                for (long at = 0; at < src.byteSize(); at += buf.length) {
                    int n = (int) Math.min(buf.length, src.byteSize() - at);
                    MemorySegment.copy(src, ValueLayout.JAVA_BYTE, at, buf, 0, n);
                    o.write(buf, 0, n);
                    tracker.add(n);
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
}
