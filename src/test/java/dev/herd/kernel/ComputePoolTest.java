package dev.herd.kernel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ComputePoolTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 5})
    void everyIndexRunsOncePerOp(int threads) {
        try (ComputePool pool = new ComputePool(threads)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(threads);
            pool.run((index, count) -> {
                assertThat(count).isEqualTo(threads);
                seen.incrementAndGet(index);
            });
            for (int i = 0; i < threads; i++) assertThat(seen.get(i)).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void workerExceptionReachesCallerAndPoolStaysUsable(int threads) {
        try (ComputePool pool = new ComputePool(threads)) {
            assertThatThrownBy(() -> pool.run((index, count) -> {
                if (index == count - 1) throw new IllegalStateException("boom " + index);
            })).isInstanceOf(IllegalStateException.class).hasMessage("boom " + (threads - 1));
            AtomicLong ran = new AtomicLong();
            pool.run((index, count) -> ran.incrementAndGet());
            assertThat(ran.get()).isEqualTo(threads);
        }
    }

    @Test
    void callerExceptionPropagates() {
        try (ComputePool pool = new ComputePool(2)) {
            assertThatThrownBy(() -> pool.run((index, count) -> {
                if (index == 0) throw new ArithmeticException("caller");
            })).isInstanceOf(ArithmeticException.class);
        }
    }

    @Test
    void manyConsecutiveRunsSeeEachOthersWrites() {
        try (ComputePool pool = new ComputePool(3)) {
            long[][] cells = new long[2][3];
            for (int run = 0; run < 20_000; run++) {
                long[] src = cells[run % 2], dst = cells[(run + 1) % 2];
                // Each op reads a neighbour's cell written by the previous op: the barrier must order them.
                pool.run((index, count) -> dst[index] = src[(index + 1) % count] + 1);
                for (long c : dst) assertThat(c).isEqualTo(run + 1);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void everyPieceRunsOnceWhateverThreadClaimsIt(int threads) {
        try (ComputePool pool = new ComputePool(threads)) {
            for (int pieces : new int[]{1, 2, 7, 64}) {
                AtomicIntegerArray seen = new AtomicIntegerArray(pieces);
                pool.run((index, count) -> {
                    assertThat(count).isEqualTo(pieces);
                    seen.incrementAndGet(index);
                }, pieces);
                for (int i = 0; i < pieces; i++) assertThat(seen.get(i)).as("piece %d of %d", i, pieces).isEqualTo(1);
            }
        }
    }

    @Test
    void runsWithDifferentPieceCountsSeeEachOthersWrites() {
        try (ComputePool pool = new ComputePool(2)) {
            long[] cells = new long[12];
            for (int run = 0; run < 5_000; run++) {
                int pieces = 1 + run % cells.length;
                long expected = run;
                // Every piece checks all cells were written by the previous run, whichever thread wrote them.
                pool.run((index, count) -> {
                    for (long c : cells) if (c != expected) throw new AssertionError("stale cell " + c + " in run " + expected);
                }, pieces);
                pool.run((index, count) -> {
                    int from = ComputePool.start(cells.length, index, count), to = ComputePool.start(cells.length, index + 1, count);
                    for (int i = from; i < to; i++) cells[i]++;
                }, pieces);
            }
        }
    }

    @Test
    void pieceExceptionReachesCaller() {
        try (ComputePool pool = new ComputePool(2)) {
            assertThatThrownBy(() -> pool.run((index, count) -> {
                if (index == 5) throw new IllegalStateException("piece 5");
            }, 8)).isInstanceOf(IllegalStateException.class).hasMessage("piece 5");
            assertThatThrownBy(() -> pool.run((index, count) -> {}, 0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void splitCoversRangeWithoutGaps() {
        for (int n : new int[]{0, 1, 7, 2048}) {
            for (int count = 1; count <= 4; count++) {
                assertThat(ComputePool.start(n, 0, count)).isZero();
                assertThat(ComputePool.start(n, count, count)).isEqualTo(n);
            }
        }
    }
}
