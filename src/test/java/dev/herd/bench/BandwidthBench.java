package dev.herd.bench;

import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The machine's memory read bandwidth, the bound on decoding speed (a decoded token reads every weight once): sums an
 * off-heap buffer much larger than any cache with {@link LongVector} in N threads, each thread a contiguous share.
 * A plain main class with no Herd dependency, so {@code bench/compare.sh} runs it from source in seconds:
 * <pre>java --add-modules jdk.incubator.vector src/test/java/dev/herd/bench/BandwidthBench.java [--mib 1024] [--passes 10] 1 2</pre>
 * Prints one line per thread count: {@code bandwidth threads=N best_gb_s=X median_gb_s=Y} (GB = 10^9 bytes). The
 * best pass is the bound; the median shows how much the machine's other load moved it.
 */
public final class BandwidthBench {
    static final VectorSpecies<Long> L = LongVector.SPECIES_PREFERRED;

    public static void main(String[] args) throws InterruptedException {
        long mib = 1024;
        int passes = 10;
        int[] threadCounts = new int[args.length];
        int n = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--mib" -> mib = Long.parseLong(args[++i]);
                case "--passes" -> passes = Integer.parseInt(args[++i]);
                default -> threadCounts[n++] = Integer.parseInt(args[i]);
            }
        }
        threadCounts = n == 0 ? new int[]{1, 2} : Arrays.copyOf(threadCounts, n);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(mib << 20, 64);
            memory.fill((byte) 1); // touch every page now, so no pass pays for page faults
            warmUp(memory);
            for (int threads : threadCounts) {
                double[] gbs = new double[passes];
                for (int p = 0; p < passes; p++) gbs[p] = pass(memory, threads);
                Arrays.sort(gbs);
                System.out.printf("bandwidth threads=%d best_gb_s=%.2f median_gb_s=%.2f mib=%d passes=%d vector_bits=%d%n",
                        threads, gbs[passes - 1], gbs[passes / 2], mib, passes, L.vectorBitSize());
            }
        }
    }

    /** Until C2 compiles {@link #sum}, the Vector API allocates every vector: a first pass over 1 GiB would take minutes. */
    static void warmUp(MemorySegment memory) {
        MemorySegment small = memory.asSlice(0, 64 << 10);
        long sink = 0;
        for (int i = 0; i < 20_000; i++) sink += sum(small, 0, small.byteSize());
        if (sink == 42) System.out.print(""); // keeps the loop from being removed
    }

    /** One pass over the whole buffer, split across threads; returns GB/s. */
    static double pass(MemorySegment memory, int threads) throws InterruptedException {
        long vectors = memory.byteSize() / L.vectorByteSize();
        long[] sums = new long[threads];
        Thread[] workers = new Thread[threads];
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            int index = t;
            long from = vectors * t / threads * L.vectorByteSize(), to = vectors * (t + 1) / threads * L.vectorByteSize();
            workers[t] = Thread.ofPlatform().start(() -> sums[index] = sum(memory, from, to));
        }
        for (Thread w : workers) w.join();
        long nanos = System.nanoTime() - start;
        if (Arrays.stream(sums).sum() == 42) System.out.print("");
        return memory.byteSize() / (double) nanos;
    }

    /** Sum of the 64-bit words in bytes [from, to); two accumulators so the add latency never limits the loads. */
    static long sum(MemorySegment memory, long from, long to) {
        LongVector a = LongVector.zero(L), b = LongVector.zero(L);
        int step = L.vectorByteSize();
        long at = from;
        for (; at + 2 * step <= to; at += 2 * step) {
            a = a.add(LongVector.fromMemorySegment(L, memory, at, ByteOrder.LITTLE_ENDIAN));
            b = b.add(LongVector.fromMemorySegment(L, memory, at + step, ByteOrder.LITTLE_ENDIAN));
        }
        for (; at + step <= to; at += step) a = a.add(LongVector.fromMemorySegment(L, memory, at, ByteOrder.LITTLE_ENDIAN));
        return a.add(b).reduceLanes(VectorOperators.ADD);
    }
}
