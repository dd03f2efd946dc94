package dev.herd.engine;

import dev.herd.Shared;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.format.Llama2cCheckpoint;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

/**
 * A small trained model: stories15M (F32) cut to its first {@link #LAYERS} layers and {@link #VOCAB} tokens, without
 * tokenizer. Small enough to commit in llama.cpp's quantized types (src/test/resources/models), and still peaked as a
 * trained model is, so that quantized and F32 runs can be compared on greedy tokens.
 */
final class SmallStories {
    static final int LAYERS = 2, VOCAB = 1024;

    private SmallStories() {}

    static void write(Path dir, Path out) throws IOException {
        Path full = dir.resolve("stories15M-f32.gguf");
        Llama2cCheckpoint.convert(Shared.model("stories15M.bin"), full, Map.of());
        try (GgufFile f = GgufFile.open(full)) {
            GgufWriter w = new GgufWriter();
            f.metadata().forEach((k, v) -> w.put(k, switch (k) {
                case "llama.block_count" -> LAYERS;
                case "llama.vocab_size" -> VOCAB;
                default -> v;
            }));
            if (!f.has("llama.vocab_size")) w.put("llama.vocab_size", VOCAB);
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                if (t.name().startsWith("blk.") && Integer.parseInt(t.name().split("\\.")[1]) >= LAYERS) continue;
                long[] dims = t.dims().clone();
                if (t.name().equals("token_embd.weight") || t.name().equals("output.weight")) dims[1] = VOCAB;
                long bytes = t.type().bytes(dims[0]) * (dims.length > 1 ? dims[1] : 1);
                if (t.type() != GgmlType.F32) throw new IllegalStateException(t.name() + " is " + t.type());
                w.tensor(t.name(), t.type(), dims, o -> o.write(f.bytes(t.name()).asSlice(0, bytes).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
    }
}
