package dev.herd.cli;

import dev.herd.Shared;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.format.DllamaTokenizerFile;
import dev.herd.model.Arch;
import dev.herd.model.ModelConfig;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code herd plan} on mutated GGUF and .m headers (fixed seed): every case prints a plan or exits with one short
 * printable line naming the problem, never an internal error.
 */
class PlanFuzzTest {
    @TempDir
    Path dir;

    @Test
    void mutatedGgufHeaders() throws IOException {
        Path gguf = dir.resolve("model.gguf");
        ModelConfig cfg = new ModelConfig(Arch.LLAMA, 64, 128, 2, 4, 2, 16, 384, 64, 1e-5f, 10000, new ModelConfig.RopeScaling(8, 1, 4, 32), false);
        RandomModel.write(cfg, GgmlType.Q8_0, gguf, 1, DllamaTokenizerFile.read(Shared.model("tiny.t")).metadata(), Progress.NONE);
        fuzz(Files.readAllBytes(gguf), "m.gguf", 2048, 11, 300);
    }

    @Test
    void mutatedDllamaHeaders() throws IOException {
        fuzz(Files.readAllBytes(Shared.model("tiny_q40.m")), "m.m", 200, 12, 100); // 5 MB per case
    }

    /** Changes 1-4 bytes among the first {@code header} (or cuts the file short) and plans the result on 2 nodes. */
    private void fuzz(byte[] original, String name, int header, long seed, int cases) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path file = dir.resolve(name);
        var outcomes = new TreeMap<String, Integer>();
        for (int i = 0; i < cases; i++) {
            byte[] b = original.clone();
            if (rnd.nextInt(8) == 0) {
                b = Arrays.copyOf(b, rnd.nextInt(b.length));
            } else {
                for (int k = rnd.nextInt(1, 5); k > 0; k--) b[rnd.nextInt(Math.min(header, b.length))] = (byte) rnd.nextInt(256);
            }
            Files.write(file, b);
            CliTest.Result r = CliTest.run("plan", "--model", file.toString(), "--nodes", "2", "--max-seq-len", "64");
            String what = "case " + i + ": " + r.err();
            if (r.code() == 0) {
                assertThat(r.out()).as(what).contains("GiB").contains("expected");
                outcomes.merge("ok", 1, Integer::sum);
                continue;
            }
            assertThat(r.code()).as(what).isEqualTo(1);
            assertThat(r.out()).as(what).isEmpty();
            assertThat(r.err()).as(what).startsWith("herd: ").doesNotContain("internal error").hasSizeLessThan(600)
                    .matches("[^\\p{Cntrl}]*\\n");
            String[] words = r.err().replace("herd: " + file + ": ", "").split(" ");
            outcomes.merge(String.join(" ", Arrays.copyOf(words, Math.min(2, words.length))), 1, Integer::sum);
        }
        System.out.printf("plan fuzz %s: %s%n", name, outcomes);
        assertThat(outcomes).containsKey("ok");
    }
}
