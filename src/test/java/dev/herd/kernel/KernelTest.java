package dev.herd.kernel;

import dev.herd.codec.Codecs;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Every kernel against the scalar oracle. Tolerance: 1e-5 of sum |w_i x_i|. Kernels sum in float (8 lanes, a few
 * accumulators, then a horizontal add); the oracle in double with the same inputs (Q8_0-rounded activations for
 * quantized weights), so the only difference is float rounding, at most about (cols / 8) * 2^-24 of that sum
 * (~3e-5 for 4096 columns in the worst case, ~1e-6 typically). The integer kernels sum each block exactly and are
 * closer still. A wrong element, nibble or scale moves a result by far more.
 */
class KernelTest {
    static final GgmlType[] TYPES = {GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.F32, GgmlType.F16, GgmlType.BF16};
    static final int[] ROWS = {1, 3, 7, 33, 129, 2, 16};
    static final int[] COLS = {32, 64, 96, 160, 2048, 4096, 288};

    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        int k = 0;
        for (GgmlType type : TYPES) {
            for (int batch = 1; batch <= 5; batch++) {
                for (int threads = 1; threads <= 3; threads++, k++) {
                    all.add(Arguments.of(type, ROWS[k % ROWS.length], COLS[k % COLS.length], batch, threads, k % 2 == 0));
                }
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}x{2} batch {3} threads {4} prepared {5}")
    @MethodSource("cases")
    void matchesOracle(GgmlType type, int rows, int cols, int batch, int threads, boolean prepared) {
        try (Arena arena = Arena.ofShared(); ComputePool pool = new ComputePool(threads)) {
            Tensor w = Weights.random(type, rows, cols, rows * 31L + cols, arena);
            // The same weights again, rewritten in place into the kernel's layout (when it has one for them).
            Tensor used = prepared ? Kernels.prepare(Weights.random(type, rows, cols, rows * 31L + cols, arena), arena) : w;
            Activations x = new Activations(cols, batch + 1);
            x.batch(batch);
            x.readBy(used);
            Weights.fill(x, cols * 7L + batch);
            Kernel kernel = Kernels.of(used.type());
            if (kernel.needsQuantized()) pool.run(x::quantize);

            int offset = 3, stride = rows + 5;
            float[] out = new float[batch * stride + offset];
            Arrays.fill(out, Float.NaN);
            pool.run((index, count) -> {
                int from = Kernels.split(used, index, count), to = Kernels.split(used, index + 1, count);
                if (from < to) kernel.matmul(used, x, out, offset + from, stride, from, to);
            });

            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) {
                    double tolerance = 1e-5 * Oracle.magnitude(w, r, x, b) + 1e-30;
                    assertThat((double) out[b * stride + offset + r]).as("batch %d row %d", b, r)
                            .isCloseTo(Oracle.dot(w, r, x, b), within(tolerance));
                }
                for (int gap = rows; gap < stride && b * stride + offset + gap < out.length; gap++) {
                    assertThat(out[b * stride + offset + gap]).as("untouched slot").isNaN();
                }
            }
            assertThat(out[offset - 1]).isNaN();
        }
    }

    /** Every type with a layout of its kernel (Q4_1, Q5_0, Q5_1, IQ4_NL and IQ4_XS in another type's) interleaved (groups of ROWS rows): one group, several, with 1-3 threads, batches of 1 to 9 (8-vector passes and remainders). */
    @ParameterizedTest
    @CsvSource({"Q4_0, 1, 32", "Q4_0, 2, 2048", "Q4_0, 17, 4096", "Q4_0, 3, 160", "Q4_0, 8, 288",
            "Q8_0, 1, 32", "Q8_0, 2, 2048", "Q8_0, 17, 4096", "Q8_0, 3, 160", "Q8_0, 8, 288",
            "Q6_K, 1, 256", "Q6_K, 2, 2048", "Q6_K, 5, 4096", "Q6_K, 3, 768",
            "Q4_K, 1, 256", "Q4_K, 2, 2048", "Q4_K, 5, 4096", "Q4_K, 3, 768",
            "IQ4_NL, 1, 32", "IQ4_NL, 2, 2048", "IQ4_NL, 3, 160",
            "Q5_K, 1, 256", "Q5_K, 2, 2048", "Q5_K, 3, 768", "IQ4_XS, 1, 256", "IQ4_XS, 2, 2048", "IQ4_XS, 3, 768",
            "Q4_1, 1, 32", "Q4_1, 2, 2048", "Q5_0, 1, 32", "Q5_0, 2, 2048", "Q5_1, 1, 32", "Q5_1, 3, 160",
            "Q3_K, 1, 256", "Q3_K, 2, 2048", "Q3_K, 3, 768", "Q2_K, 1, 256", "Q2_K, 2, 2048", "Q2_K, 3, 768"})
    void interleavedMatchesOracle(GgmlType type, int groups, int cols) {
        int rows = groups * InterleavedKernel.ROWS;
        for (int batch = 1; batch <= 9; batch++) matchesOracle(type, rows, cols, batch, 1 + batch % 3, true);
    }

    @ParameterizedTest
    @CsvSource({"Q4_0, Q4_0_INTERLEAVED", "Q8_0, Q8_0_INTERLEAVED"})
    void prepareRewritesGroupsOfRowsAndLeavesTheRest(GgmlType type, GgmlType interleaved) {
        int rows = 2 * InterleavedKernel.ROWS;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = Weights.random(type, rows, 96, 3, arena);
            Tensor expected = Weights.random(type, rows, 96, 3, arena);
            Tensor readOnly = new Tensor("w", type, rows, 96, w.data().asReadOnly());
            Tensor copy = Kernels.prepare(readOnly, arena);
            assertThat(copy.type()).isEqualTo(interleaved);
            assertThat(copy.data().address()).isNotEqualTo(w.data().address());
            assertThat(w.data().mismatch(expected.data())).as("read-only source untouched").isEqualTo(-1);
            Tensor inPlace = Kernels.prepare(w, arena);
            assertThat(inPlace.data().address()).isEqualTo(w.data().address());
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < 96; c++) {
                    assertThat(Kernels.get(inPlace, r, c)).isEqualTo(Kernels.get(copy, r, c)).isEqualTo(Oracle.weight(expected, r, c));
                }
            }
            Activations unprepared = new Activations(96, 1);
            unprepared.quantize();
            assertThatThrownBy(() -> Kernels.of(interleaved).matmul(copy, unprepared, new float[rows], 0, rows, 0, rows))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("readBy");
            Tensor odd = Weights.random(type, rows + 2, 96, 4, arena), f16 = Weights.random(GgmlType.F16, rows, 96, 5, arena);
            assertThat(Kernels.prepare(odd, arena)).isSameAs(odd);
            assertThat(Kernels.prepare(f16, arena)).isSameAs(f16);
        }
    }

    /**
     * The layouts made from another type hold exactly the values the file's blocks decode to (the codecs match ggml's
     * dequantization bit for bit, CodecTest), read back element by element; rows that fill no group stay as they are.
     */
    @ParameterizedTest
    @CsvSource({"Q4_K, Q4_K_INTERLEAVED, 512", "Q4_1, Q4_1_INTERLEAVED, 96", "IQ4_NL, Q8_0_INTERLEAVED, 96", "Q5_0, Q8_0_INTERLEAVED, 96",
            "Q5_K, Q5_K_INTERLEAVED, 512", "Q5_1, Q5_1_INTERLEAVED, 96", "IQ4_XS, Q5_K_INTERLEAVED, 512",
            "Q3_K, Q3_K_INTERLEAVED, 512", "Q2_K, Q3_K_INTERLEAVED, 512"})
    void preparedLayoutsHoldTheDecodedValues(GgmlType type, GgmlType layout, int cols) {
        int rows = 2 * InterleavedKernel.ROWS;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = Weights.random(type, rows, cols, 7, arena);
            Tensor prepared = Kernels.prepare(new Tensor("w", type, rows, cols, w.data().asReadOnly()), arena);
            assertThat(prepared.type()).isEqualTo(layout);
            assertThat(prepared.data().byteSize()).isEqualTo(rows * layout.bytes(cols));
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                Codecs.of(type).decode(w.data(), r * w.rowBytes(), row, 0, cols);
                for (int c = 0; c < cols; c++) assertThat(Kernels.get(prepared, r, c)).as("row %d column %d", r, c).isEqualTo(row[c]);
            }
            Tensor odd = Weights.random(type, rows + 1, cols, 8, arena);
            assertThat(Kernels.prepare(odd, arena)).isSameAs(odd);
        }
    }

    /** Batches with an odd row count, several 4-vector groups and a remainder, and rows of many blocks. */
    @ParameterizedTest
    @EnumSource(names = {"Q4_0", "Q8_0", "F32"})
    void oddRowsAndLongRowsInBatches(GgmlType type) {
        for (int batch : new int[]{4, 6}) matchesOracle(type, 19, 1312, batch, 1, false);
    }

    @ParameterizedTest
    @CsvSource({"Q4_0, 37", "Q8_0, 37", "F32, 37", "F16, 37", "BF16, 37", "Q4_0_INTERLEAVED, 5", "Q4_0_INTERLEAVED, 1",
            "Q8_0_INTERLEAVED, 5", "Q8_0_INTERLEAVED, 1", "Q6_K_INTERLEAVED, 5", "Q6_K_INTERLEAVED, 1", "Q4_K_INTERLEAVED, 5", "Q4_K_INTERLEAVED, 1",
            "Q5_K_INTERLEAVED, 5", "Q5_K_INTERLEAVED, 1", "Q3_K_INTERLEAVED, 5", "Q3_K_INTERLEAVED, 1"})
    void poolSplitWritesEveryRow(GgmlType type, int size) {
        GgmlType fileType = Weights.fileType(type);
        int rows = type != fileType ? size * InterleavedKernel.ROWS : size; // interleaved: groups
        int cols = fileType.blockSize == 256 ? 256 : 128;
        try (Arena arena = Arena.ofShared(); ComputePool pool = new ComputePool(3)) {
            Tensor original = Weights.random(fileType, rows, cols, 5, arena);
            Tensor w = type != fileType ? Kernels.prepare(Weights.random(fileType, rows, cols, 5, arena), arena) : original;
            assertThat(w.type()).isEqualTo(type);
            Activations x = new Activations(cols, 4);
            x.batch(4);
            x.readBy(w);
            Weights.fill(x, 9);
            pool.run(x::quantize);
            float[] out = new float[4 * rows];
            pool.run((index, count) -> Kernels.matmul(w, x, out, index, count));
            for (int b = 0; b < 4; b++) {
                for (int r = 0; r < rows; r++) {
                    assertThat((double) out[b * rows + r]).isCloseTo(Oracle.dot(original, r, x, b), within(1e-5 * Oracle.magnitude(original, r, x, b) + 1e-30));
                }
            }
        }
    }

    @Test
    void batchOneAndBatchesAgree() {
        try (Arena arena = Arena.ofShared()) {
            Tensor w = Weights.random(GgmlType.Q4_0, 9, 2048, 1, arena);
            Activations many = new Activations(2048, 3), one = new Activations(2048, 1);
            many.batch(3);
            Weights.fill(many, 2);
            System.arraycopy(many.values, 2048, one.values, 0, 2048);
            many.quantize();
            one.quantize();
            float[] batched = new float[27], single = new float[9];
            Kernels.of(GgmlType.Q4_0).matmul(w, many, batched, 0, 9, 0, 9);
            Kernels.of(GgmlType.Q4_0).matmul(w, one, single, 0, 9, 0, 9);
            for (int r = 0; r < 9; r++) {
                assertThat(batched[9 + r]).isCloseTo(single[r], within(1e-5f * Math.abs(single[r]) + 1e-3f));
            }
        }
    }

    /**
     * The kernels with an integer batch path ({@link IntBatch}: Q4_0, Q4_K, Q4_1, Q6_K) give every vector of a batch bit
     * for bit what they give that vector alone (a decoding pass of separate sequences relies on it): batches of 1 to 10
     * (passes of four and a short last one), 1-3 threads, with extreme values (activations at +-127 after quantization,
     * weight bytes 0xff and 0) among random ones.
     */
    @ParameterizedTest
    @CsvSource({"Q4_0, 1, 32", "Q4_0, 3, 2048", "Q4_0, 2, 8192", "Q4_0, 5, 160", "Q4_K, 1, 256", "Q4_K, 3, 2048", "Q4_K, 2, 8192",
            "Q4_1, 1, 32", "Q4_1, 3, 2048", "Q6_K, 1, 256", "Q6_K, 3, 2048", "Q6_K, 2, 8192"})
    void intBatchRowsEqualRowsAlone(GgmlType type, int groups, int cols) {
        int rows = groups * InterleavedKernel.ROWS;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = Kernels.prepare(Weights.random(type, rows, cols, cols + groups, arena), arena);
            assertThat(Kernels.of(w.type()).rowsExact()).isTrue();
            long pieces = cols / 32 * 8 * 2L * InterleavedKernel.ROWS; // in the first group's pieces, before its scales
            for (long at = 0; at < pieces; at += 7) w.data().set(ValueLayout.JAVA_BYTE, at, (byte) (at % 3 == 0 ? 0xff : 0));
            for (int batch = 1; batch <= 10; batch++) {
                Activations many = new Activations(cols, 10), one = new Activations(cols, 1);
                many.readBy(w);
                one.readBy(w);
                many.batch(batch);
                Weights.fill(many, batch * 13L);
                for (int i = 0; i < cols; i += 5) many.values[i] = i % 2 == 0 ? 1f : -1f;
                float[] batched = new float[batch * rows];
                int threads = 1 + batch % 3;
                try (ComputePool pool = new ComputePool(threads)) {
                    pool.run((index, count) -> many.quantize(index, count));
                    pool.run((index, count) -> Kernels.matmul(w, many, batched, index, count));
                }
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(many.values, b * cols, one.values, 0, cols);
                    one.quantize();
                    float[] single = new float[rows];
                    Kernels.matmul(w, one, single, 0, 1);
                    assertThat(Arrays.copyOfRange(batched, b * rows, (b + 1) * rows)).as("batch %d vector %d", batch, b).isEqualTo(single);
                }
            }
        }
    }
}
