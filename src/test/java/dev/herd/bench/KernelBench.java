package dev.herd.bench;

import dev.herd.kernel.Activations;
import dev.herd.kernel.ComputePool;
import dev.herd.kernel.Kernel;
import dev.herd.kernel.Kernels;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
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
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Matrix times batch of vectors on Llama-3.2-1B shapes (rows x cols). Each call uses the next of several copies of
 * the matrix, together larger than the L3 cache, so weights stream from memory as they do while decoding a model
 * ({@code streamedMiB=0} keeps one copy: a small one then stays in cache, which measures the kernel's instructions alone).
 * The "gigabytes" counter is weight bytes streamed per second (a batch reads its matrix once).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class KernelBench {

    @Param({"2048x2048", "8192x2048", "2048x8192"})
    public String shape;
    @Param({"Q4_0", "Q8_0"})
    public GgmlType type;
    @Param({"1", "16"})
    public int batch;
    @Param({"1", "2"})
    public int threads;
    /** MiB of copies streamed per round by default: more than the caches hold. */
    static final String STREAMED_MIB = "192";

    /** MiB of copies streamed per round; 0 keeps one copy, cache-resident for small shapes. */
    @Param({STREAMED_MIB})
    public int streamedMiB;
    /** Whether {@link Kernels#prepare} ran, as the engine does at load time (Q4_0: rows interleaved by eight). */
    @Param({"true"})
    public boolean prepared;

    private Arena arena;
    private ComputePool pool;
    private Tensor[] copies;
    private Activations x;
    private float[] out;
    private int next;

    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Streamed {
        public double gigabytes;
    }

    @Setup(Level.Trial)
    public void setUp() {
        int rows = Integer.parseInt(shape.split("x")[0]), cols = Integer.parseInt(shape.split("x")[1]);
        long bytes = rows * type.bytes(cols);
        arena = Arena.ofShared();
        copies = new Tensor[(int) Math.max(1, (((long) streamedMiB << 20) + bytes - 1) / bytes)];
        SplittableRandom rnd = new SplittableRandom(1);
        short scale = Float.floatToFloat16(0.01f);
        for (int c = 0; c < copies.length; c++) {
            MemorySegment data = arena.allocate(bytes, 64);
            for (long i = 0; i < bytes / 8; i++) data.setAtIndex(ValueLayout.JAVA_LONG, i, rnd.nextLong());
            // the block's fp16 scales (d, and dmin after it where the type has one)
            long scaleAt = switch (type) { case Q6_K -> 208; case Q3_K -> 108; case Q2_K -> 80; default -> 0; };
            boolean dmin = type == GgmlType.Q2_K || type == GgmlType.Q4_K || type == GgmlType.Q5_K;
            for (long at = 0; at < bytes; at += type.blockBytes) {
                data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + scaleAt, scale);
                if (dmin) data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + scaleAt + 2, scale);
            }
            // read-only, as a mapped model file: prepare then copies it into memory of its own, as at load
            copies[c] = new Tensor("w" + c, type, rows, cols, data.asReadOnly());
            if (prepared) copies[c] = Kernels.prepare(copies[c], arena);
        }
        x = new Activations(cols, batch);
        x.batch(batch);
        x.readBy(copies[0]);
        for (int i = 0; i < x.values.length; i++) x.values[i] = (float) rnd.nextDouble(-1, 1);
        out = new float[rows * batch];
        pool = new ComputePool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float matmul(Streamed streamed) {
        Tensor w = copies[next];
        next = (next + 1) % copies.length;
        Kernel kernel = Kernels.of(w.type());
        if (kernel.needsQuantized()) pool.run(x::quantize);
        pool.run((index, count) -> Kernels.matmul(w, x, out, index, count));
        streamed.gigabytes += w.data().byteSize() / 1e9;
        return out[0];
    }
}
