package dev.herd.engine;

import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.Progress;
import dev.herd.format.GgufFile;
import dev.herd.format.GgufWriter;
import dev.herd.format.Llama2cCheckpoint;
import dev.herd.tensor.GgmlType;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Makes the committed ss-f16.gguf (src/test/resources/models, README there): stories15M cut to its first
 * {@link #LAYERS} layers and {@link #VOCAB} tokens, without tokenizer, its matrices in F16 (norms stay F32). Small
 * enough to commit, with the llama.cpp-quantized files made from it, and still peaked as a trained model is, so that
 * quantized runs can be compared with it. Tests read the committed file; this only makes it again from the full
 * checkpoint, which is not committed: {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes
 * dev.herd.engine.SmallStories ../shared/models/stories15M.bin OUT.gguf}.
 */
final class SmallStories {
    static final int LAYERS = 2, VOCAB = 1024;

    private SmallStories() {}

    public static void main(String[] args) throws IOException {
        Path dir = Files.createTempDirectory("small-stories");
        Path full = dir.resolve("stories15M-f32.gguf"), cut = dir.resolve("cut-f32.gguf");
        Llama2cCheckpoint.convert(Path.of(args[0]), full, Map.of());
        try (GgufFile f = GgufFile.open(full)) {
            GgufWriter w = new GgufWriter();
            f.metadata().forEach((k, v) -> w.put(k, switch (k) {
                case "llama.block_count" -> LAYERS;
                case "llama.vocab_size" -> VOCAB;
                default -> v;
            }));
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                if (t.name().startsWith("blk.") && Integer.parseInt(t.name().split("\\.")[1]) >= LAYERS) continue;
                long[] dims = t.dims().clone();
                if (t.name().equals("token_embd.weight")) dims[1] = VOCAB;
                long bytes = t.type().bytes(dims[0]) * (dims.length > 1 ? dims[1] : 1);
                if (t.type() != GgmlType.F32) throw new IllegalStateException(t.name() + " is " + t.type());
                w.tensor(t.name(), t.type(), dims, o -> o.write(f.bytes(t.name()).asSlice(0, bytes).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(cut);
        }
        GgufRequantizer.convert(cut, Path.of(args[1]), GgmlType.F16, Map.of(), Progress.NONE);
        for (Path p : new Path[]{full, cut, dir}) Files.delete(p);
    }
}
