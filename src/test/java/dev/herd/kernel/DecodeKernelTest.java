package dev.herd.kernel;

import dev.herd.codec.GgmlVectors;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The generic kernel of the types without their own (K-quants, legacy, IQ4) against a scalar reference that reads
 * ggml's own decoded values (src/test/resources/ggml), not Herd's codec: rows built from ggml's blocks, products summed
 * in double. Batch 1 (dot products) and batches (rows expanded once), 1-3 threads, at the width the run uses (the
 * build runs kernel tests at 512, 256 and 128 bits). Tolerance as in {@link KernelTest}: 1e-5 of sum |w_i x_i|.
 */
class DecodeKernelTest {

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void matchesGgmlsDecodedValues(GgmlType type) throws IOException {
        byte[] blocks = GgmlVectors.blocks(type.name().toLowerCase());
        float[] decoded = GgmlVectors.decoded(type.name().toLowerCase());
        int count = decoded.length / type.blockSize;
        for (int batch = 1; batch <= 5; batch += 2) {
            for (int threads = 1; threads <= 3; threads++) {
                int rows = 3 + 2 * threads, cols = type.blockSize * (type.blockSize == 32 ? 24 : 3);
                try (Arena arena = Arena.ofShared(); ComputePool pool = new ComputePool(threads)) {
                    int perRow = cols / type.blockSize;
                    MemorySegment data = arena.allocate(rows * type.bytes(cols) + 3, 64).asSlice(3, rows * type.bytes(cols)); // mmap slices are unaligned
                    float[][] w = new float[rows][cols];
                    for (int r = 0; r < rows; r++) {
                        for (int j = 0; j < perRow; j++) {
                            int blk = (r * perRow + j * 3) % count;
                            MemorySegment.copy(MemorySegment.ofArray(blocks), (long) blk * type.blockBytes, data,
                                    (r * perRow + j) * (long) type.blockBytes, type.blockBytes);
                            System.arraycopy(decoded, blk * type.blockSize, w[r], j * type.blockSize, type.blockSize);
                        }
                    }
                    Tensor t = new Tensor("w", type, rows, cols, data);
                    Activations x = new Activations(cols, batch);
                    x.batch(batch);
                    Weights.fill(x, cols + batch);
                    Kernel kernel = Kernels.of(type);
                    assertThat(kernel.needsQuantized()).isFalse();
                    float[] out = new float[batch * rows];
                    Arrays.fill(out, Float.NaN);
                    pool.run((index, n) -> {
                        int from = Kernels.split(t, index, n), to = Kernels.split(t, index + 1, n);
                        if (from < to) kernel.matmul(t, x, out, from, rows, from, to);
                    });
                    for (int b = 0; b < batch; b++) {
                        for (int r = 0; r < rows; r++) {
                            double dot = 0, magnitude = 0;
                            for (int i = 0; i < cols; i++) {
                                double p = (double) w[r][i] * x.values[b * cols + i];
                                dot += p;
                                magnitude += Math.abs(p);
                            }
                            assertThat((double) out[b * rows + r]).as("%s batch %d/%d row %d threads %d", type, b, batch, r, threads)
                                    .isCloseTo(dot, within(1e-5 * magnitude + 1e-30));
                        }
                    }
                }
            }
        }
    }
}
