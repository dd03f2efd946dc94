package dev.herd.kernel;

import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * How fast this machine runs a token's matrix products: bytes of Q4_0 weights per second through the lone-token
 * kernel on a number of threads, over a matrix larger than the caches, as a token reads each weight once from
 * memory. Whichever bounds a node (its cores or its memory), this figure is what its share of a token costs, so
 * nodes' figures set their shares of a split ({@code --balance auto}).
 */
public final class SpeedProbe {
    /** 8192 x 8192 Q4_0: 36 MiB, beyond the last-level cache of the boards and desktops a home cluster is made of. */
    static final int ROWS = 8192, COLS = 8192;
    /**
     * Timed passes: at least this many, for at least this long, all counted: a machine that other work keeps busy is
     * that much slower for a token too (the fastest pass alone fits in one of the scheduler's time slices).
     */
    private static final int PASSES = 5;
    private static final long NANOS = 300_000_000L;

    private SpeedProbe() {}

    /** Bytes of weights per second on {@code threads} threads (about a second, most of it compiling the kernel the first time). */
    public static long bytesPerSecond(int threads) {
        try (Arena arena = Arena.ofShared(); ComputePool pool = new ComputePool(threads)) {
            Tensor w = Kernels.prepare(new Tensor("speed probe", GgmlType.Q4_0, ROWS, COLS, random(arena)), arena);
            Kernels.compile(w); // not warmUp: the model's own rows must still warm the type when it loads
            Activations x = new Activations(COLS, 1);
            x.readBy(w);
            for (int i = 0; i < COLS; i++) x.values[i] = (i * 0.37f) % 1 - 0.5f;
            x.quantize();
            Kernel kernel = Kernels.of(w.type());
            float[] out = new float[ROWS];
            ComputePool.Op op = (index, count) -> {
                int from = Kernels.split(w, index, count), to = Kernels.split(w, index + 1, count);
                if (from < to) kernel.matmul(w, x, out, from, ROWS, from, to);
            };
            pool.run(op, 4 * threads); // the pool's threads started, the matrix in the caches it fits in
            int passes = 0;
            long start = System.nanoTime(), took;
            do {
                pool.run(op, 4 * threads);
                passes++;
                took = System.nanoTime() - start;
            } while (passes < PASSES || took < NANOS);
            return (long) (passes * GgmlType.Q4_0.bytes(w.size()) * 1e9 / took);
        }
    }

    /** Q4_0 blocks of pseudo-random nibbles with a normal scale (a subnormal or NaN scale could run at another speed). */
    private static MemorySegment random(Arena arena) {
        long blocks = (long) ROWS * COLS / Activations.BLOCK, seed = 0x9E3779B97F4A7C15L;
        MemorySegment data = arena.allocate(GgmlType.Q4_0.bytes((long) ROWS * COLS), 64);
        for (long b = 0, at = 0; b < blocks; b++, at += GgmlType.Q4_0.blockBytes) {
            data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at, Float.floatToFloat16(0.01f));
            seed ^= seed << 13;
            seed ^= seed >>> 7;
            seed ^= seed << 17;
            data.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 2, seed);
            data.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 10, Long.rotateLeft(seed, 29));
        }
        return data;
    }
}
