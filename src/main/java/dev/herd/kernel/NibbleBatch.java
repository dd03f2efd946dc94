package dev.herd.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;

/**
 * The integer batch path of the layouts with Q4_0's nibble pieces ({@link Q4InterleavedKernel}, {@link
 * Q4KInterleavedKernel}): a group's pieces times four vectors per pass, each piece loaded and split into nibbles once
 * for the four (per piece and vector two 16-bit multiplies and two adds, where weights expanded to floats took four
 * FMAs and the expansion). A pass only multiplies and adds in 16-bit lanes and stores each block's sums; each kernel
 * then widens and scales them as its lone-token loop does (a loop doing both for four vectors parses into more nodes
 * than C2 inlines, its NodeCountInliningCutoff, and every vector then gets boxed). The block sums are exact integers,
 * so a kernel that converts and scales them with the same float operations in the same order as its lone-token loop
 * gives every vector of a batch bit for bit what it gives alone ({@link Kernel#rowsExact}).
 *
 * <p>The group's pieces are first copied to a heap array: read there at int offsets, C2 takes the bounds checks out of
 * the loop, where on a {@code MemorySegment} it checks bounds and the session at every piece.
 */
final class NibbleBatch {
    private static final int ROWS = InterleavedKernel.ROWS, P = InterleavedKernel.P;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LITTLE_ENDIAN);

    /** Per thread: a group's pieces, its block metadata as floats, and four vectors' block sums. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static final class Scratch {
        byte[] pieces = new byte[0];
        float[] floats = new float[0];
        /** Block blk's 16-bit sums of slot t (of four) at (blk * 4 + t) * P. */
        short[] sums = new short[0];

        /** Holds the pieces of the {@code blocks} blocks of the group at byte {@code at}, and room for its metadata and sums. */
        Scratch load(MemorySegment w, long at, int blocks, int floatsPerBlock) {
            if (pieces.length < blocks * 8 * P) {
                pieces = new byte[blocks * 8 * P];
                sums = new short[blocks * 4 * P];
            }
            if (floats.length < blocks * floatsPerBlock) floats = new float[blocks * floatsPerBlock];
            MemorySegment.copy(w, ValueLayout.JAVA_BYTE, at, pieces, 0, blocks * 8 * P);
            return this;
        }

        /** Copies {@code count} floats from byte {@code at} of w into {@link #floats}. */
        void copyFloats(MemorySegment w, long at, int count) {
            MemorySegment.copy(w, FLOAT, at, floats, 0, count);
        }
    }

    private NibbleBatch() {}

    static Scratch scratch() {
        return SCRATCH.get();
    }

    /**
     * For the four vectors whose nibble pairs start at q[q0] ({@link Activations#nibbleQuads}), each block's 16-bit
     * sums of level x value into {@code s.sums}. A block's eight pieces are an inner loop of constant count.
     */
    static void pass(Scratch s, int blocks, int[] q, int q0) {
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

    /** Block blk's sums of slot t (16-bit lanes) as read by a kernel's finishing loop. */
    static ShortVector sums(Scratch s, int blk, int t) {
        return ShortVector.fromArray(S, s.sums, (blk * 4 + t) * P);
    }
}
