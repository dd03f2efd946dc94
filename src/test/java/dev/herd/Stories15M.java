package dev.herd;

import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.Progress;
import dev.herd.tensor.GgmlType;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;

/**
 * stories15M for tests, from committed files only: the embedded Q8_0 GGUF (made by Herd's converter from the llama2.c
 * checkpoint, scripts/make-fixtures.sh) and its F32, decoded by Herd's converter. The F32 holds the Q8_0 weights
 * exactly, but runs the F32 kernels (no rounding of activations) and splits on any node count that divides the heads
 * (2, 3, 6), where Q8_0's 32-value blocks allow only 1 and 3. The full F32 checkpoint (59 MB) is not committed.
 */
public final class Stories15M {
    private Stories15M() {}

    public static Path q8() {
        try {
            return Path.of(Stories15M.class.getResource("/models/stories15M-q8_0.gguf").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the F32 of {@link #q8()} into {@code dir} and returns its path. */
    public static Path f32(Path dir) {
        Path out = dir.resolve("stories15M-f32.gguf");
        GgufRequantizer.convert(q8(), out, GgmlType.F32, Map.of(), Progress.NONE);
        return out;
    }

    /** Writes the Q4_0 of {@link #q8()} into {@code dir} and returns its path. */
    public static Path q4(Path dir) {
        Path out = dir.resolve("stories15M-q4_0.gguf");
        GgufRequantizer.convert(q8(), out, GgmlType.Q4_0, Map.of(), Progress.NONE);
        return out;
    }
}
