package dev.herd.bench;

import dev.herd.kernel.ComputePool;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * The memory bandwidth yardstick for {@link KernelBench}, measured alongside it: a vectorized sum over the same
 * amount of memory, in slices the size of an 8192 x 2048 Q8_0 matrix, split across the pool the same way.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MemoryBench {
    static final VectorSpecies<Long> L = LongVector.SPECIES_PREFERRED;
    static final long SLICE = 8192L * 2048 / 32 * 34;

    @Param({"1", "2"})
    public int threads;

    private Arena arena;
    private ComputePool pool;
    private MemorySegment memory;
    private final long[] sums = new long[2];
    private long next;

    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Streamed {
        public double gigabytes;
    }

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        memory = arena.allocate((Long.parseLong(KernelBench.STREAMED_MIB) << 20) / SLICE * SLICE, 64); // as much as KernelBench streams
        memory.fill((byte) 1);
        pool = new ComputePool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public long sum(Streamed streamed) {
        MemorySegment slice = memory.asSlice(next, SLICE);
        next = (next + SLICE) % memory.byteSize();
        pool.run((index, count) -> {
            long words = SLICE / L.vectorByteSize();
            long from = words * index / count, to = words * (index + 1) / count;
            LongVector acc = LongVector.zero(L);
            for (long i = from; i < to; i++) {
                acc = acc.add(LongVector.fromMemorySegment(L, slice, i * L.vectorByteSize(), ByteOrder.LITTLE_ENDIAN));
            }
            sums[index] = acc.reduceLanes(VectorOperators.ADD);
        });
        streamed.gigabytes += SLICE / 1e9;
        return sums[0] + sums[1];
    }
}
