package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.convert.WeightTypes;
import dev.herd.format.DllamaModel;
import dev.herd.format.GgufFile;
import dev.herd.tensor.GgmlType;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * distributed-llama's {@code --weights-float-type} on a run: Herd reads the type from the file, so the flag only
 * checks that the file holds what the user expects (its first query matrix, which carries the base type of every
 * file type Herd writes or reads).
 */
final class WeightsCheck {
    private WeightsCheck() {}

    static void check(Path model, String name) {
        GgmlType want = WeightTypes.parse(name).base();
        if (!Files.isRegularFile(model)) return; // the open that follows names the missing file
        try (GgufFile f = DllamaModel.isDllama(model) ? DllamaModel.open(model) : GgufFile.open(model)) {
            GgufFile.TensorInfo q = f.tensors().get("blk.0.attn_q.weight");
            if (q == null) throw new HerdException(model + ": no blk.0.attn_q.weight to check --weights-float-type against");
            if (q.type() != want) {
                throw new HerdException(String.format("--weights-float-type %s (%s) does not match %s, whose weights are %s: drop the flag"
                        + " (the file says its type), or convert the model with `herd convert --weights-float-type %s`", name, want, model, q.type(), name));
            }
        }
    }
}
