package dev.herd.kernel;

import dev.herd.codec.Codecs;
import dev.herd.codec.Iq4Nl;
import dev.herd.codec.Q5_0;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.stream.IntStream;

/** The kernel for each supported weight type, and the parallel matmul that splits rows across a pool. */
public final class Kernels {
    private Kernels() {}

    static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final Kernel Q4_0 = new Q4Kernel();
    private static final Kernel Q4_0_INTERLEAVED = new Q4InterleavedKernel();
    private static final Kernel Q8_0_INTERLEAVED = new Q8InterleavedKernel();
    private static final Kernel Q6_K_INTERLEAVED = new Q6InterleavedKernel();
    private static final Kernel Q4_K_INTERLEAVED = new Q4KInterleavedKernel();
    private static final Kernel Q5_K_INTERLEAVED = new Q5KInterleavedKernel();
    private static final Kernel Q3_K_INTERLEAVED = new Q3KInterleavedKernel();
    private static final Kernel Q8_0 = new Q8Kernel();
    private static final Kernel F32_KERNEL = new FloatKernels.F32();
    private static final Kernel F16_KERNEL = new FloatKernels.F16();
    private static final Kernel BF16_KERNEL = new FloatKernels.BF16();

    /** The generic kernel of every type Herd reads; the switch below picks faster ones where they exist. */
    private static final Map<GgmlType, Kernel> DECODING = new EnumMap<>(GgmlType.class);
    static {
        for (GgmlType t : GgmlType.values()) if (Codecs.reads(t)) DECODING.put(t, new DecodeKernel(Codecs.of(t)));
    }

    public static Kernel of(GgmlType type) {
        return switch (type) {
            case F32 -> F32_KERNEL;
            case F16 -> F16_KERNEL;
            case BF16 -> BF16_KERNEL;
            case Q8_0 -> Q8_0;
            case Q4_0 -> Q4_0;
            case Q4_0_INTERLEAVED -> Q4_0_INTERLEAVED;
            case Q8_0_INTERLEAVED -> Q8_0_INTERLEAVED;
            case Q6_K_INTERLEAVED -> Q6_K_INTERLEAVED;
            case Q4_K_INTERLEAVED, Q4_1_INTERLEAVED -> Q4_K_INTERLEAVED;
            case Q5_K_INTERLEAVED, Q5_1_INTERLEAVED -> Q5_K_INTERLEAVED;
            case Q3_K_INTERLEAVED -> Q3_K_INTERLEAVED;
            default -> decoding(type);
        };
    }

    private static Kernel decoding(GgmlType type) {
        Kernel k = DECODING.get(type);
        if (k == null) throw new IllegalArgumentException("no kernel for " + type);
        return k;
    }

    /** This thread's share of {@code out = w x}, rows split evenly across the pool's threads. */
    public static void matmul(Tensor w, Activations x, float[] out, int index, int count) {
        int from = split(w, index, count), to = split(w, index + 1, count);
        if (from < to) of(w.type()).matmul(w, x, out, from, w.rows(), from, to);
    }

    /** First row of share {@code index} of {@code count}: even shares, on the row groups of interleaved types. */
    public static int split(Tensor w, int index, int count) {
        if (!interleaved(w.type())) return ComputePool.start(w.rows(), index, count);
        return InterleavedKernel.ROWS * ComputePool.start(w.rows() / InterleavedKernel.ROWS, index, count);
    }

    private static final Set<GgmlType> WARM = ConcurrentHashMap.newKeySet();

    /**
     * Runs the kernel of {@code sample}'s type on its first rows (batch 1 and a batch with a remainder) until C2 has
     * compiled it, once per JVM and type: until then the Vector API runs in code that allocates every vector (the
     * first prompt of a 1B model took ~4 s longer). Real rows, so that the compiled code sees the real memory kind
     * (mapped or not) and row length: a compile speculating on another would be thrown away on the first real call.
     * Stops when a round of calls runs 10x faster than the first, or after 4000 calls.
     */
    public static void warmUp(Tensor sample) {
        if (sample.cols() % Activations.BLOCK != 0 || !WARM.add(sample.type())) return; // odd sizes take another path
        compile(sample);
    }

    /** {@link #warmUp}'s rounds on {@code sample}, whether or not its type is warm (a probe's rows are not the model's). */
    static void compile(Tensor sample) {
        Tensor w = sample.rows(0, Math.min(sample.rows(), 16)); // whole interleaved groups at every width
        Kernel kernel = of(w.type());
        Activations one = new Activations(w.cols(), 1), many = new Activations(w.cols(), 12);
        many.batch(12);
        one.readBy(w);
        many.readBy(w);
        Random rnd = new Random(1);
        for (Activations x : List.of(one, many)) for (int i = 0; i < x.values.length; i++) x.values[i] = rnd.nextFloat() - 0.5f;
        float[] out = new float[w.rows() * 12];
        long first = 0;
        for (int round = 0; round < 40; round++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                Activations x = i % 2 == 0 ? one : many;
                if (kernel.needsQuantized()) x.quantize();
                kernel.matmul(w, x, out, 0, w.rows(), 0, w.rows());
            }
            long took = System.nanoTime() - t0;
            if (round == 0) first = took;
            else if (took * 10 < first) return;
        }
    }

    /** Element (row, col) of a tensor in a kernel's own layout (slow; for tests and the odd single row). */
    public static float get(Tensor w, int row, int col) {
        return switch (w.type()) {
            case Q4_0_INTERLEAVED -> Q4InterleavedKernel.get(w, row, col);
            case Q8_0_INTERLEAVED -> Q8InterleavedKernel.get(w, row, col);
            case Q6_K_INTERLEAVED -> Q6InterleavedKernel.get(w, row, col);
            case Q4_K_INTERLEAVED, Q4_1_INTERLEAVED -> Q4KInterleavedKernel.get(w, row, col);
            case Q5_K_INTERLEAVED, Q5_1_INTERLEAVED -> Q5KInterleavedKernel.get(w, row, col);
            case Q3_K_INTERLEAVED -> Q3KInterleavedKernel.get(w, row, col);
            default -> throw new IllegalArgumentException("not a kernel layout: " + w.type());
        };
    }

    /** The kernel layout of {@code type} when it is larger than the file's ({@link #prepare} then always copies), or null. */
    public static GgmlType largerLayout(GgmlType type) {
        return switch (type) {
            case Q6_K -> GgmlType.Q6_K_INTERLEAVED;
            case Q4_K -> GgmlType.Q4_K_INTERLEAVED;
            case Q5_K, IQ4_XS -> GgmlType.Q5_K_INTERLEAVED;
            case Q4_1 -> GgmlType.Q4_1_INTERLEAVED;
            case Q5_1 -> GgmlType.Q5_1_INTERLEAVED;
            case Q3_K, Q2_K -> GgmlType.Q3_K_INTERLEAVED;
            case IQ4_NL, Q5_0 -> GgmlType.Q8_0_INTERLEAVED; // int8 levels times a half scale: Q8_0 blocks hold them exactly
            default -> null;
        };
    }

    /** Whether {@code type} is a kernel's own layout (rows interleaved in groups), made by {@link #prepare}; never in files. */
    public static boolean interleaved(GgmlType type) {
        return switch (type) {
            case Q4_0_INTERLEAVED, Q8_0_INTERLEAVED, Q6_K_INTERLEAVED, Q4_K_INTERLEAVED, Q5_K_INTERLEAVED, Q3_K_INTERLEAVED, Q4_1_INTERLEAVED,
                 Q5_1_INTERLEAVED -> true;
            default -> false;
        };
    }

    /**
     * {@code w} in the fastest layout for its kernel: Q4_0 and Q8_0 matrices whose rows fill groups of {@link
     * InterleavedKernel#ROWS} become {@link GgmlType#Q4_0_INTERLEAVED} and {@link GgmlType#Q8_0_INTERLEAVED},
     * Q6_K ones {@link GgmlType#Q6_K_INTERLEAVED}, Q4_K and Q4_1 ones {@link GgmlType#Q4_K_INTERLEAVED}, Q5_K, Q5_1
     * and IQ4_XS ones {@link GgmlType#Q5_K_INTERLEAVED}, Q3_K and Q2_K ones {@link GgmlType#Q3_K_INTERLEAVED}, IQ4_NL and Q5_0 ones Q8_0's layout (their values are int8
     * levels times a half scale, which Q8_0 blocks hold exactly); anything else is
     * returned as it is. Writable memory is rewritten in place (the caller owns it), except where the layout is larger
     * ({@link #largerLayout}: a copy in {@code arena}); read-only memory (a mapped
     * model file) is copied into {@code arena}, and the file's pages are then released from this process (they stay in
     * the OS page cache) so that the model is not resident twice.
     */
    public static Tensor prepare(Tensor w, Arena arena) {
        GgmlType larger = largerLayout(w.type());
        if (larger != null && w.rows() % InterleavedKernel.ROWS == 0) {
            MemorySegment dst = Pages.allocate(arena, larger.bytes(w.size()));
            Tensor copy = switch (w.type()) {
                case Q6_K -> inChunks(w, dst, larger, Q6InterleavedKernel::repack);
                case Q4_K, Q4_1 -> inChunks(w, dst, larger, Q4KInterleavedKernel::repack);
                case Q5_K, Q5_1, IQ4_XS -> inChunks(w, dst, larger, Q5KInterleavedKernel::repack);
                case Q3_K, Q2_K -> inChunks(w, dst, larger, Q3KInterleavedKernel::repack);
                default -> InterleavedKernel.repack(asQ8_0(w, dst), dst, larger);
            };
            if (w.data().isReadOnly()) Pages.release(w.data());
            return copy;
        }
        GgmlType to = switch (w.type()) {
            case Q4_0 -> GgmlType.Q4_0_INTERLEAVED;
            case Q8_0 -> GgmlType.Q8_0_INTERLEAVED;
            default -> null;
        };
        if (to == null || w.rows() % InterleavedKernel.ROWS != 0) return w;
        if (!w.data().isReadOnly()) return InterleavedKernel.repack(w, w.data(), to);
        Tensor copy = InterleavedKernel.repack(w, Pages.allocate(arena, w.data().byteSize()), to);
        Pages.release(w.data());
        return copy;
    }

    /**
     * {@code repack} of {@code w} into {@code dst} ({@code to}'s layout, {@link #largerLayout}), in chunks of whole groups on the common pool:
     * groups are independent, and one tensor can be large (a Q4_K_M file's Q6_K output matrix of 128,256 rows took one
     * thread seconds to repack).
     */
    private static Tensor inChunks(Tensor w, MemorySegment dst, GgmlType to, BiFunction<Tensor, MemorySegment, Tensor> repack) {
        int groups = w.rows() / InterleavedKernel.ROWS, chunks = Math.min(groups, 64);
        long rowBytes = to.bytes(w.cols());
        IntStream.range(0, chunks).parallel().forEach(c -> {
            int from = groups * c / chunks * InterleavedKernel.ROWS, until = groups * (c + 1) / chunks * InterleavedKernel.ROWS;
            if (from < until) repack.apply(w.rows(from, until), dst.asSlice(from * rowBytes, (until - from) * rowBytes));
        });
        return new Tensor(w.name(), to, w.rows(), w.cols(), dst);
    }

    /**
     * As {@link #prepare(Tensor, Arena)}, for {@code stacked} matrices of equal rows in one tensor (a mixture's
     * experts): only when each one's rows fill whole groups, so that every matrix stays a view of whole groups.
     */
    public static Tensor prepare(Tensor w, int stacked, Arena arena) {
        return w.rows() / stacked % InterleavedKernel.ROWS == 0 ? prepare(w, arena) : w;
    }

    /** The IQ4_NL or Q5_0 tensor {@code w} written to {@code dst} as the Q8_0 tensor it equals. */
    private static Tensor asQ8_0(Tensor w, MemorySegment dst) {
        long blocks = w.size() / Activations.BLOCK;
        for (long b = 0; b < blocks; b++) {
            long from = b * w.type().blockBytes, to = b * GgmlType.Q8_0.blockBytes;
            if (w.type() == GgmlType.IQ4_NL) Iq4Nl.toQ8_0(w.data(), from, dst, to);
            else Q5_0.toQ8_0(w.data(), from, dst, to);
        }
        return new Tensor(w.name(), GgmlType.Q8_0, w.rows(), w.cols(), dst);
    }
}
