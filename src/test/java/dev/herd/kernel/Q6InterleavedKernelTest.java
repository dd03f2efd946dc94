package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The Q6_K kernel's own layout ({@link GgmlType#Q6_K_INTERLEAVED}): made from a copy (it takes more bytes than the
 * file's), every element as the file decodes it, and sums at the extremes of the 16-bit lanes. Random rows against the
 * oracle, batch 1 and batches, at every width: {@link KernelTest}.
 */
class Q6InterleavedKernelTest {
    private static final int ROWS = 2 * InterleavedKernel.ROWS, COLS = 768;

    @Test
    void prepareCopiesGroupsOfRowsIntoTheKernelsLayoutAndLeavesTheRest() {
        try (Arena arena = Arena.ofShared()) {
            Tensor w = Weights.random(GgmlType.Q6_K, ROWS, COLS, 3, arena);
            Tensor expected = Weights.random(GgmlType.Q6_K, ROWS, COLS, 3, arena);
            for (Tensor source : new Tensor[]{w, new Tensor("w", GgmlType.Q6_K, ROWS, COLS, w.data().asReadOnly())}) {
                Tensor copy = Kernels.prepare(source, arena);
                assertThat(copy.type()).isEqualTo(GgmlType.Q6_K_INTERLEAVED);
                assertThat(copy.data().byteSize()).isEqualTo(ROWS * GgmlType.Q6_K_INTERLEAVED.bytes(COLS));
                assertThat(w.data().mismatch(expected.data())).as("source untouched").isEqualTo(-1);
                for (int r = 0; r < ROWS; r++) {
                    for (int c = 0; c < COLS; c++) assertThat(Kernels.get(copy, r, c)).as("(%d, %d)", r, c).isEqualTo(Oracle.weight(expected, r, c));
                }
                Activations unprepared = new Activations(COLS, 1);
                unprepared.quantize();
                assertThatThrownBy(() -> Kernels.of(copy.type()).matmul(copy, unprepared, new float[ROWS], 0, ROWS, 0, ROWS))
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("readBy");
            }
            Tensor odd = Weights.random(GgmlType.Q6_K, ROWS + 2, COLS, 4, arena);
            assertThat(Kernels.prepare(odd, arena)).isSameAs(odd);
        }
    }

    /**
     * Blocks at the extremes: every value -32 (bits 0) or 31 (bits 1), scales -128, 127 or 0, d zero, negative or the
     * largest half, times activations all at +-127 after rounding: eight products of 32 x 127 fill a 16-bit lane to
     * 32512, a sub-block's scaled sum reaches 16 x 4064 x 128. An overflow or a wrong sign moves a result by far more
     * than the tolerance.
     */
    @Test
    void extremeBlocksDoNotOverflow() {
        byte[][] bits = {{0, 0}, {-1, -1}, {0x55, 0x00}, {-1, 0}}; // (ql, qh) fill bytes
        byte[][] scales = {{-128}, {127}, {0}, {-128, 127}};
        float[] ds = {1f, -2f, 0f, 65504f};
        try (Arena arena = Arena.ofShared()) {
            long rowBytes = GgmlType.Q6_K.bytes(COLS);
            MemorySegment data = arena.allocate(ROWS * rowBytes + 1, 64).asSlice(1, ROWS * rowBytes);
            for (int r = 0; r < ROWS; r++) {
                for (int b = 0; b < COLS / 256; b++) {
                    long at = r * rowBytes + b * 210L;
                    int k = r * 3 + b;
                    data.asSlice(at, 128).fill(bits[k % 4][0]);
                    data.asSlice(at + 128, 64).fill(bits[k % 4][1]);
                    byte[] s = scales[k / 4 % 4];
                    for (int j = 0; j < 16; j++) data.set(ValueLayout.JAVA_BYTE, at + 192 + j, s[j % s.length]);
                    data.set(Kernels.F16, at + 208, Float.floatToFloat16(ds[k / 16 % 4]));
                }
            }
            Tensor original = new Tensor("w", GgmlType.Q6_K, ROWS, COLS, data);
            Tensor w = Kernels.prepare(new Tensor("w", GgmlType.Q6_K, ROWS, COLS, data.asReadOnly()), arena);
            assertThat(w.type()).isEqualTo(GgmlType.Q6_K_INTERLEAVED);
            for (float sign : new float[]{1f, -1f}) {
                for (int batch : new int[]{1, 3}) {
                    Activations x = new Activations(COLS, batch);
                    x.batch(batch);
                    x.readBy(w);
                    for (int i = 0; i < x.values.length; i++) x.values[i] = i / COLS == 1 ? (i % 2 == 0 ? sign : -sign) : sign;
                    x.quantize();
                    float[] out = new float[batch * ROWS];
                    Kernels.of(w.type()).matmul(w, x, out, 0, ROWS, 0, ROWS);
                    for (int b = 0; b < batch; b++) {
                        for (int r = 0; r < ROWS; r++) {
                            assertThat((double) out[b * ROWS + r]).as("sign %s batch %d/%d row %d", sign, b, batch, r)
                                    .isCloseTo(Oracle.dot(original, r, x, b), within(1e-5 * Oracle.magnitude(original, r, x, b) + 1e-30));
                        }
                    }
                }
            }
        }
    }
}
