package dev.herd.engine;

import dev.herd.ChildJvm;
import dev.herd.kernel.VectorWidth;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Batched forward passes over a Q4_K_M file (Q4_K and Q6_K matrices, the types with integer batches: kernel/IntBatch)
 * compile to code that allocates next to nothing, in a JVM that runs that file alone. There C2 once inlined both
 * types' conversions into the one unit that called them through an interface, past its node budget, and every vector
 * was boxed (8 MB per pass of this test; the 1B file's prompts ran at half speed); the kernel allocation tests, whose JVM runs every kernel, did
 * not show it. So this runs in a JVM of its own ({@link #main}) with this one's flags (vector width included).
 */
class MixedBatchAllocationTest {
    /** What a pass may allocate: its own bookkeeping, not a vector per operation (boxed, a pass allocated megabytes). */
    static final long LITTLE = 64 << 10;

    @Test
    void q4kmPromptPassesAloneInAJvmAllocateNextToNothing() throws Exception {
        String out = ChildJvm.output(ManagementFactory.getRuntimeMXBean().getInputArguments().stream().filter(a -> !a.startsWith("-agentlib")).toList(),
                MixedBatchAllocationTest.class, 90);
        Matcher m = Pattern.compile("bytes per pass: (\\d+)").matcher(out);
        assertThat(m.find()).as("the child JVM's report: %s", out).isTrue();
        assertThat(Long.parseLong(m.group(1))).as("bytes allocated per pass, %s", out).isLessThanOrEqualTo(LITTLE);
    }

    /**
     * Batched passes of 16 tokens over the committed kq-q4_k_m on two threads until they allocate little, counted over
     * every thread (up to a minute, as C2 gets time); prints the bytes per pass. (On one thread it did not box.)
     */
    public static void main(String[] args) throws Exception {
        Path file = Path.of(MixedBatchAllocationTest.class.getResource("/models/kq-q4_k_m.gguf").toURI());
        int[] tokens = new SplittableRandom(4).ints(16, 0, 512).toArray();
        try (Llama llama = Llama.load(file, 32, 2, 16)) {
            var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long perPass = Long.MAX_VALUE;
            for (long end = System.nanoTime() + 60_000_000_000L; System.nanoTime() < end && perPass > LITTLE; ) {
                long before = threads.getTotalThreadAllocatedBytes();
                for (int i = 0; i < 20; i++) llama.forward(tokens, 0, false);
                perPass = (threads.getTotalThreadAllocatedBytes() - before) / 20;
            }
            System.out.println("bytes per pass: " + perPass + " (" + VectorWidth.describe() + ")");
        }
    }
}
