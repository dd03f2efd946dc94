package dev.herd.engine;

import dev.herd.Stories15M;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;
import dev.herd.model.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static dev.herd.Logits.relativeL2;
import static org.assertj.core.api.Assertions.assertThat;

/** A KV cache in a memory-mapped file computes what the in-memory one does, and leaves no file behind. */
class KvCacheTest {
    /**
     * Not bitwise: the Vector API leaves the order of a float reduction unspecified, and interpreted and compiled code
     * do differ, so two runs in one JVM (cold, then warm) differ by float rounding. F32 weights keep that at ~1e-6
     * (with Q8_0 activations a rounding flip would amplify it to about 1 %).
     */
    static final double REL_L2 = 1e-5;

    @TempDir
    Path dir;

    /**
     * Issue 13: the file lives under the chosen folder and loses its name as soon as it is mapped (the mapping shows
     * as deleted in /proc/self/maps), so no way of ending the process can leave it behind.
     */
    @Test
    void diskCacheGivesTheSameLogitsAndHasNoNameWhileMapped() throws Exception {
        Path fixture = Stories15M.f32(dir);
        Path kvDir = dir.resolve("kv");
        int[] tokens = new SplittableRandom(5).ints(40, 0, 32000).toArray();
        try (GgufFile f = GgufFile.open(fixture)) {
            ModelConfig c = GgufConfig.read(f);
            Weights w = Weights.from(f.source(), c);
            float[] memory, disk;
            try (Llama m = new Llama(c, w, 64, 2, 16, Sync.NONE, KvCache.Storage.MEMORY)) {
                memory = m.forward(tokens, 0, false);
            }
            try (Llama d = new Llama(c, w, 64, 2, 16, Sync.NONE, new KvCache.Storage(kvDir))) {
                assertThat(kvDir).isEmptyDirectory();
                assertThat(Files.readAllLines(Path.of("/proc/self/maps"))).anySatisfy(line ->
                        assertThat(line).contains(kvDir + "/herd-kv-").endsWith("(deleted)"));
                disk = d.forward(tokens, 0, false);
            }
            assertThat(kvDir).isEmptyDirectory();
            assertThat(relativeL2(disk, memory)).isLessThan(REL_L2);
        }
    }
}
