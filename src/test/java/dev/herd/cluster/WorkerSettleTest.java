package dev.herd.cluster;

import dev.herd.codec.Codecs;
import dev.herd.format.Quantizer;
import dev.herd.kernel.Kernels;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A worker's K-quant slices are repacked as soon as they arrive and their received bytes freed: held beside the
 * larger kernel layout for the whole session, they took 2-2.3x those matrices' size.
 */
class WorkerSettleTest {
    private static final int ROWS = 16, COLS = 512; // whole groups at 128, 256 and 512 bits

    @Test
    void aQ6KSliceIsRepackedIntoTheSessionAndItsReceivedBytesFreed() {
        try (Arena session = Arena.ofShared()) {
            Arena own = Arena.ofShared();
            Tensor received = q6k(own, ROWS);
            Tensor settled = Worker.settle(received, 1, own, session);
            assertThat(own.scope().isAlive()).as("the received bytes' arena").isFalse();
            assertThat(settled.type()).isEqualTo(GgmlType.Q6_K_INTERLEAVED);
            float[] row = new float[COLS];
            Codecs.of(GgmlType.Q6_K).decode(q6k(session, ROWS).data(), 7 * GgmlType.Q6_K.bytes(COLS), row, 0, COLS);
            for (int c = 0; c < COLS; c += 37) assertThat(Kernels.get(settled, 7, c)).isEqualTo(row[c]);
        }
    }

    @Test
    void rowsThatFillNoGroupAreCopiedAsTheyAre() {
        try (Arena session = Arena.ofShared()) {
            Arena own = Arena.ofShared();
            Tensor received = q6k(own, ROWS + 1);
            byte[] bytes = received.data().toArray(ValueLayout.JAVA_BYTE);
            Tensor settled = Worker.settle(received, 1, own, session);
            assertThat(own.scope().isAlive()).isFalse();
            assertThat(settled.type()).isEqualTo(GgmlType.Q6_K);
            assertThat(settled.data().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(bytes);
        }
    }

    @Test
    void theMemoryCheckCountsTheLargerLayout() {
        SplitPlan.Part part = new SplitPlan.Part("blk.0.ffn_down.weight", dev.herd.model.ModelTensor.Cut.ROWS, 2 * ROWS, COLS, 0, ROWS, 1);
        assertThat(Worker.loadedBytes(part, GgmlType.Q6_K)).isEqualTo(GgmlType.Q6_K_INTERLEAVED.bytes((long) ROWS * COLS));
        assertThat(Worker.loadedBytes(part, GgmlType.Q8_0)).isEqualTo(GgmlType.Q8_0.bytes((long) ROWS * COLS));
    }

    /** {@code rows} x COLS random values in Q6_K, in {@code arena}; the same each call. */
    private static Tensor q6k(Arena arena, int rows) {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] values = new float[rows * COLS];
        for (int i = 0; i < values.length; i++) values[i] = (float) rnd.nextDouble(-1, 1);
        byte[] bytes = new byte[(int) GgmlType.Q6_K.bytes(values.length)];
        Quantizer.encode(GgmlType.Q6_K, values, 0, values.length, bytes, 0);
        MemorySegment data = arena.allocate(bytes.length, 64).copyFrom(MemorySegment.ofArray(bytes));
        return new Tensor("blk.0.ffn_down.weight", GgmlType.Q6_K, rows, COLS, data);
    }
}
