package dev.herd.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.foreign.ValueLayout;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;

/**
 * The integer batch path of interleaved layouts whose lone-token loop sums a run of pieces in 16-bit lanes: Q4_0's
 * nibble pieces ({@link Q4InterleavedKernel}, {@link Q4KInterleavedKernel}: 8 pieces per 32 values) and Q6_K's
 * bytes ({@link Q6InterleavedKernel}: 8 pieces per 16 values). A pass multiplies a group's pieces by four vectors,
 * each piece loaded (and split into nibbles) once for the four, and only adds in 16-bit lanes, storing each run's sums;
 * each kernel then widens and scales them as its lone-token loop does (a loop doing both for four vectors parses into
 * more nodes than C2 inlines, its NodeCountInliningCutoff, and every vector then gets boxed; see {@link #finish}). The run sums are exact
 * integers, so a kernel that converts and scales them with the same float operations in the same order as its
 * lone-token loop gives every vector of a batch bit for bit what it gives alone ({@link Kernel#rowsExact}).
 *
 * <p>Per piece and vector that is one 16-bit multiply and add per 16-bit lane of products, where the weights expanded to
 * floats took an FMA per float lane, plus the expansion. The group's pieces are first copied to a heap array: read there
 * at int offsets, C2 takes the bounds checks out of the loop, where on a {@code MemorySegment} it checks bounds and the
 * session at every piece.
 */
final class IntBatch {
    private static final int P = InterleavedKernel.P;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LITTLE_ENDIAN);

    /** Per thread: a group's pieces and metadata, and four vectors' run sums. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static final class Scratch {
        byte[] pieces = new byte[0];
        float[] floats = new float[0];
        short[] shorts = new short[0];
        /** Run k's 16-bit sums of slot t (of four) at (k * 4 + t) * P. */
        short[] sums = new short[0];

        /** Copies the group's {@code runs} runs of eight pieces from byte {@code at} of w, with room for their sums. */
        Scratch load(MemorySegment w, long at, int runs) {
            if (pieces.length < runs * 8 * P) pieces = new byte[runs * 8 * P];
            if (sums.length < runs * 4 * P) sums = new short[runs * 4 * P];
            MemorySegment.copy(w, ValueLayout.JAVA_BYTE, at, pieces, 0, runs * 8 * P);
            return this;
        }

        /** Copies {@code count} floats from byte {@code at} of w into {@link #floats}. */
        void copyFloats(MemorySegment w, long at, int count) {
            if (floats.length < count) floats = new float[count];
            MemorySegment.copy(w, FLOAT, at, floats, 0, count);
        }

        /** Copies {@code count} shorts from byte {@code at} of w into {@link #shorts}. */
        void copyShorts(MemorySegment w, long at, int count) {
            if (shorts.length < count) shorts = new short[count];
            MemorySegment.copy(w, SHORT, at, shorts, 0, count);
        }

        /** Floats to fill in place (converted metadata). */
        float[] floats(int count) {
            if (floats.length < count) floats = new float[count];
            return floats;
        }
    }

    /**
     * A kernel's conversion of the run sums of vectors b and b + 1 (if {@code second}: else the padding of a last four),
     * in slots t and t + 1, to their rows' results at out[o..o+ROWS) and out[o+stride..): each vector's sum one chain in
     * block order, as in the kernel's lone-token loop; two chains side by side hide the FMA's latency. Its type:
     * (Scratch s, int t, Activations x, int b, boolean second, float[] out, int o, int stride) void.
     */
    static final MethodType FINISH = MethodType.methodType(void.class, Scratch.class, int.class, Activations.class, int.class,
            boolean.class, float[].class, int.class, int.class);

    /**
     * The handle of a kernel's static {@code finish2} of type {@link #FINISH}. Kernels keep it in a non-final field: C2
     * cannot see the target of a handle it does not hold as a constant, so it never inlines a conversion into {@link
     * #run}. It did inline through an interface call, both receivers of a Q4_K_M file (Q4_K's and Q6_K's) into one
     * unit, past its node budget: every vector boxed, and the file's prompts ran at half speed (68 -> 32 tok/s).
     */
    static MethodHandle finish(MethodHandles.Lookup kernel) {
        try {
            return kernel.findStatic(kernel.lookupClass(), "finish2", FINISH);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private IntBatch() {}

    static Scratch scratch() {
        return SCRATCH.get();
    }

    /** Every vector of x through the group in {@code s} ({@code runs} runs of eight pieces), four at a time. */
    static void run(Scratch s, int runs, boolean nibbles, Activations x, MethodHandle finish, float[] out, int o, int stride) {
        try {
            for (int b = 0; b < x.batch; b += 4) {
                if (nibbles) nibbles(s, runs, x.nibbleQuads, b * x.n / 2);
                else bytes(s, runs, x.pairQuads, b * x.n / 2);
                for (int t = 0; t < 4 && b + t < x.batch; t += 2) {
                    finish.invokeExact(s, t, x, b + t, b + t + 1 < x.batch, out, o + (b + t) * stride, stride);
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) { // finish2 declares no checked exception
            throw new IllegalStateException(e);
        }
    }

    /**
     * Nibble pieces: for the four vectors whose nibble pairs start at q[q0] ({@link Activations#nibbleQuads}), each
     * 32-value block's sums of level x value (its eight pieces, low and high nibbles) into the scratch's sums. (Its
     * bytecode is over C2's FreqInlineSize: it compiles on its own, never with a kernel's conversion.)
     */
    static void nibbles(Scratch s, int blocks, int[] q, int q0) {
        byte[] w = s.pieces;
        short[] sums = s.sums;
        for (int blk = 0; blk < blocks; blk++) {
            ShortVector lo0 = ShortVector.zero(S), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
            for (int c = 0; c < 8; c++) {
                int i = blk * 8 + c, j = q0 + 8 * i; // pairs (lo, hi) of piece i: q[j..j+4) and q[j+4..j+8)
                ShortVector v = (ShortVector) ByteVector.fromArray(B, w, i * P).convertShape(ZERO_EXTEND_B2S, S, 0);
                ShortVector l = v.and((short) 15), h = v.lanewise(LSHR, 4);
                lo0 = lo0.add(l.mul(IntVector.broadcast(I, q[j]).reinterpretAsShorts()));
                lo1 = lo1.add(l.mul(IntVector.broadcast(I, q[j + 1]).reinterpretAsShorts()));
                lo2 = lo2.add(l.mul(IntVector.broadcast(I, q[j + 2]).reinterpretAsShorts()));
                lo3 = lo3.add(l.mul(IntVector.broadcast(I, q[j + 3]).reinterpretAsShorts()));
                hi0 = hi0.add(h.mul(IntVector.broadcast(I, q[j + 4]).reinterpretAsShorts()));
                hi1 = hi1.add(h.mul(IntVector.broadcast(I, q[j + 5]).reinterpretAsShorts()));
                hi2 = hi2.add(h.mul(IntVector.broadcast(I, q[j + 6]).reinterpretAsShorts()));
                hi3 = hi3.add(h.mul(IntVector.broadcast(I, q[j + 7]).reinterpretAsShorts()));
            }
            int at = blk * 4 * P;
            lo0.add(hi0).intoArray(sums, at);
            lo1.add(hi1).intoArray(sums, at + P);
            lo2.add(hi2).intoArray(sums, at + 2 * P);
            lo3.add(hi3).intoArray(sums, at + 3 * P);
        }
    }

    /**
     * Byte pieces (signed values whose products by eight activation pairs fit 16 bits): for the four vectors whose pairs
     * start at q[q0] ({@link Activations#pairQuads}), each run of eight pieces' sums into the scratch's sums. Two pieces
     * per step: that also keeps its bytecode over C2's FreqInlineSize (325 bytes), as {@link #nibbles}' is, so neither
     * pass is ever inlined where a kernel's conversion is (together they parse into more nodes than C2 inlines).
     */
    static void bytes(Scratch s, int runs, int[] q, int q0) {
        byte[] w = s.pieces;
        short[] sums = s.sums;
        for (int k = 0; k < runs; k++) {
            ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < 8; c += 2) {
                int i = k * 8 + c, j = q0 + 4 * i;
                ShortVector v = (ShortVector) ByteVector.fromArray(B, w, i * P).convertShape(B2S, S, 0);
                ShortVector u = (ShortVector) ByteVector.fromArray(B, w, i * P + P).convertShape(B2S, S, 0);
                a0 = a0.add(v.mul(IntVector.broadcast(I, q[j]).reinterpretAsShorts())).add(u.mul(IntVector.broadcast(I, q[j + 4]).reinterpretAsShorts()));
                a1 = a1.add(v.mul(IntVector.broadcast(I, q[j + 1]).reinterpretAsShorts())).add(u.mul(IntVector.broadcast(I, q[j + 5]).reinterpretAsShorts()));
                a2 = a2.add(v.mul(IntVector.broadcast(I, q[j + 2]).reinterpretAsShorts())).add(u.mul(IntVector.broadcast(I, q[j + 6]).reinterpretAsShorts()));
                a3 = a3.add(v.mul(IntVector.broadcast(I, q[j + 3]).reinterpretAsShorts())).add(u.mul(IntVector.broadcast(I, q[j + 7]).reinterpretAsShorts()));
            }
            int at = k * 4 * P;
            a0.intoArray(sums, at);
            a1.intoArray(sums, at + P);
            a2.intoArray(sums, at + 2 * P);
            a3.intoArray(sums, at + 3 * P);
        }
    }

    /** Run k's sums of slot t (16-bit lanes). */
    static ShortVector sums(Scratch s, int k, int t) {
        return ShortVector.fromArray(S, s.sums, (k * 4 + t) * P);
    }
}
