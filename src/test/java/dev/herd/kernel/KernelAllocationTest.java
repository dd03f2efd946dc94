package dev.herd.kernel;

import com.sun.management.ThreadMXBean;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Compiled kernels allocate nothing: C2 keeps every vector in registers. Where C2 cannot map a species to the
 * machine's registers (a shape wider than the hardware), every vector operation allocates Java objects and the
 * kernel runs tens of times slower; this is how that shows without a timing. The JVM of each surefire execution
 * runs at one width (see pom.xml), so this checks each width's kernels on its own.
 */
class KernelAllocationTest {
    private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();

    @ParameterizedTest(name = "{0} batch {1}")
    @CsvSource({"F32, 1", "F16, 1", "BF16, 1", "Q8_0, 1", "Q4_0, 1", "Q4_0_INTERLEAVED, 1", "Q8_0_INTERLEAVED, 1",
            "Q6_K_INTERLEAVED, 1", "Q6_K_INTERLEAVED, 9", "Q4_K_INTERLEAVED, 1", "Q4_K_INTERLEAVED, 9", "Q5_K_INTERLEAVED, 1", "Q5_K_INTERLEAVED, 9", "Q3_K_INTERLEAVED, 1", "Q3_K_INTERLEAVED, 9", "F32, 9", "Q8_0, 9", "Q4_0, 9", "Q4_0_INTERLEAVED, 9", "Q8_0_INTERLEAVED, 9"})
    void compiledKernelsDoNotAllocate(GgmlType type, int batch) {
        // Quantized rows that fill no groups stay in the file's layout.
        int rows = 2 * InterleavedKernel.ROWS + (type == GgmlType.Q4_0 || type == GgmlType.Q8_0 ? 2 : 0), cols = 1024;
        // A shared arena, as the engine's: a confined one's session checks take the other branch in code C2 compiled
        // for shared ones (other tests in this JVM), and the traps that follow left it allocating for over a minute.
        try (Arena arena = Arena.ofShared()) {
            GgmlType file = Weights.fileType(type);
            Tensor w = Kernels.prepare(Weights.random(file, rows, cols, 1, arena), arena);
            assertThat(w.type()).isEqualTo(type);
            Activations x = new Activations(cols, batch);
            x.batch(batch);
            x.readBy(w);
            Weights.fill(x, 2);
            x.quantize();
            Kernel kernel = Kernels.of(type);
            float[] out = new float[rows * batch];
            long perCall = Long.MAX_VALUE;
            // Until C2 has compiled the kernel the calls allocate; give it up to a minute of rounds of 100 calls
            // (on a loaded machine the compiler threads get little time).
            for (long end = System.nanoTime() + 60_000_000_000L; System.nanoTime() < end && perCall > 0; ) {
                long before = THREADS.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 100; i++) kernel.matmul(w, x, out, 0, rows, 0, rows);
                perCall = (THREADS.getCurrentThreadAllocatedBytes() - before) / 100;
            }
            assertThat(perCall).as("bytes allocated per call of the compiled %s kernel, batch %d, at %d bits", type, batch, VectorWidth.BITS).isZero();
        }
    }

    @Test
    void compiledQuantizationDoesNotAllocate() {
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        short[] q = new short[x.length];
        float[] scales = new float[x.length / Activations.BLOCK];
        long perCall = Long.MAX_VALUE;
        for (long end = System.nanoTime() + 60_000_000_000L; System.nanoTime() < end && perCall > 0; ) {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100; i++) Quant.quantizeQ8(x, q, scales, 0, scales.length);
            perCall = (THREADS.getCurrentThreadAllocatedBytes() - before) / 100;
        }
        assertThat(perCall).as("bytes allocated per call of the compiled quantizer at %d bits", VectorWidth.BITS).isZero();
    }
}
