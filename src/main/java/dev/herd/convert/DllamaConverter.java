package dev.herd.convert;

import dev.herd.format.DllamaModel;
import dev.herd.format.DllamaTokenizerFile;
import dev.herd.format.GgufFile;

import java.nio.file.Path;
import java.util.Map;

/**
 * distributed-llama .m (+ .t) to GGUF: the model's blocks are already ggml's, so tensors are copied as they are, and a
 * mixture's experts, which a .m file holds one by one, are stacked as GGUF holds them ({@link GgufRequantizer}).
 */
public final class DllamaConverter {
    private DllamaConverter() {}

    /** {@code tokenizer} may be null: the GGUF then has no tokenizer entries. */
    public static void convert(Path model, Path tokenizer, Path out, Progress progress) {
        Map<String, Object> tok = tokenizer == null ? Map.of() : DllamaTokenizerFile.read(tokenizer).metadata();
        try (GgufFile f = DllamaModel.open(model, tok)) {
            GgufRequantizer.convert(f, out, WeightTypes.KEEP, Map.of(), progress);
        }
    }
}
