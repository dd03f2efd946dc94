package dev.herd.cluster;

import dev.herd.ChildJvm;
import dev.herd.format.GgufFile;
import dev.herd.tokenizer.TokenizerMetadata;
import dev.herd.tokenizer.Tokenizers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 13: the root's tokenizer counts in `herd plan` ({@link ClusterPlan#tokenizerBytes}) at what it takes in a JVM
 * with the herd script's heap flags: the old generation it leaves behind once loaded, measured in a JVM of its own.
 */
class TokenizerMemoryTest {
    @ParameterizedTest
    @ValueSource(strings = {"ggml-vocab-llama-bpe.gguf", "llama3-tokenizer.json", "llama2-tokenizer.model"})
    void thePlanCountsWhatTheTokenizerHolds(String name) throws Exception {
        Path file = Path.of(TokenizerMemoryTest.class.getResource("/tokenizer/" + name).toURI());
        long planned;
        if (GgufFile.isGguf(file)) {
            try (GgufFile header = GgufFile.header(file)) {
                planned = ClusterPlan.tokenizerBytes(header);
            }
        } else {
            planned = ClusterPlan.tokenizerBytes(TokenizerMetadata.read(file), TokenizerMetadata.isJson(file));
        }
        String out = ChildJvm.output(PlanMemoryTest.HERD_FLAGS, TokenizerMemoryTest.class, 60, file.toString());
        Matcher m = Pattern.compile("old generation grew by (\\d+)").matcher(out);
        assertThat(m.find()).as("the child JVM's report: %s", out).isTrue();
        long measured = Long.parseLong(m.group(1));
        // Small ones within 2 MiB, large ones within a quarter: a few percent of the root's total either way.
        assertThat((double) planned).as("planned against measured %d bytes", measured).isBetween(measured * 0.75 - (2 << 20), measured * 1.25 + (2 << 20));
    }

    /** Loads the tokenizer in {@code args[0]} as the root does (a GGUF stays open) and prints how much the old generation grew. */
    public static void main(String[] args) {
        for (int i = 0; i < 3; i++) System.gc();
        long before = oldGen();
        Path file = Path.of(args[0]);
        Object tokenizer;
        if (GgufFile.isGguf(file)) {
            GgufFile gguf = GgufFile.open(file); // the root keeps its model file, and so the metadata, open
            tokenizer = List.of(gguf, Tokenizers.fromGguf(gguf));
        } else {
            tokenizer = Tokenizers.fromFile(file);
        }
        System.out.println("old generation grew by " + (oldGen() - before) + " bytes (" + tokenizer.getClass().getSimpleName() + ")");
    }

    private static long oldGen() {
        return ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getName().contains("Old Gen")).mapToLong(p -> p.getUsage().getUsed()).sum();
    }
}
