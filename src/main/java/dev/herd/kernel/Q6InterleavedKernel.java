package dev.herd.kernel;

import dev.herd.codec.Q6_K;
import dev.herd.tensor.GgmlType;
import dev.herd.tensor.Tensor;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.S2I;

/**
 * Q6_K weights repacked at load time ({@link GgmlType#Q6_K_INTERLEAVED}) in groups of {@link #ROWS} rows (see {@link
 * InterleavedKernel}), one byte per value: q - 32 in -32..31. A group holds first, for each 32-column block and c =
 * 0..15, a piece of P = 2 x ROWS bytes: values 2c and 2c+1 of each row's block in row order (as Q8_0's); then per
 * block, each row's two 16-value scales as a byte pair; then per super-block, each row's d as a float. 276 bytes per
 * 256 values (the file's 210 plus 31 %): assembling 6-bit values from the file's 4 + 2 bit planes costs more
 * instructions than the extra bytes cost time (docs/performance.md).
 *
 * <p>A piece widened to 16-bit lanes meets the activation pair broadcast as one int, as in Q8_0's kernel, but
 * products are at most 32 x 127, so a sub-block's eight pieces add up in 16-bit lanes (at most 32,512) before one
 * pairwise widening; the sub-block's int8 scales multiply in 32-bit lanes, and a block's sum is converted to float
 * once, times d and the activations' Q8_0 scale.
 */
final class Q6InterleavedKernel extends InterleavedKernel {
    private static final int PIECES = 16, SUPER = 256, BLOCKS = SUPER / Activations.BLOCK;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes();
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, blocks = w.cols() / Activations.BLOCK;
        byte q = w.data().get(BYTE, group + (long) (blk * PIECES + e / 2) * P + 2 * r + e % 2);
        byte scale = w.data().get(BYTE, group + (long) (blocks * PIECES + blk) * P + 2 * r + e / 16);
        float d = w.data().get(Kernels.F32, group + (long) blocks * (PIECES + 1) * P + (col / SUPER * ROWS + r) * 4L);
        return d * scale * q; // in the codec's order, so the same float
    }

    /**
     * {@code w} (Q6_K, rows in groups of ROWS) in this kernel's layout, written to {@code dst} (of {@code
     * Q6_K_INTERLEAVED.bytes(w.size())} bytes): ggml's bit layout (see codec/Q6_K) read one super-block at a time.
     */
    static Tensor repack(Tensor w, MemorySegment dst) {
        int blocks = w.cols() / Activations.BLOCK, supers = w.cols() / SUPER;
        long rowBytes = w.rowBytes(), groupBytes = ROWS * GgmlType.Q6_K_INTERLEAVED.bytes(w.cols());
        byte[] to = new byte[(int) groupBytes], block = new byte[GgmlType.Q6_K.blockBytes], levels = new byte[SUPER];
        for (int g = 0; g < w.rows() / ROWS; g++) {
            for (int r = 0; r < ROWS; r++) {
                for (int s = 0; s < supers; s++) {
                    long in = (g * ROWS + r) * rowBytes + s * 210L;
                    MemorySegment.copy(w.data(), BYTE, in, block, 0, block.length); // a heap copy: byte reads at int offsets
                    Q6_K.levels(block, levels);
                    for (int i = 0; i < SUPER; i++) {
                        int blk = s * BLOCKS + i / 32, e = i % 32;
                        to[(blk * PIECES + e / 2) * P + 2 * r + e % 2] = levels[i];
                    }
                    // Scale j is sub-block j's: in block j / 2.
                    for (int j = 0; j < 16; j++) to[(blocks * PIECES + s * BLOCKS + j / 2) * P + 2 * r + j % 2] = (byte) Q6_K.scale(w.data(), in, j);
                    int dAt = blocks * (PIECES + 1) * P + (s * ROWS + r) * 4;
                    int bits = Float.floatToRawIntBits(Q6_K.d(w.data(), in));
                    for (int b = 0; b < 4; b++) to[dAt + b] = (byte) (bits >>> 8 * b);
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, g * groupBytes, to.length);
        }
        return new Tensor(w.name(), GgmlType.Q6_K_INTERLEAVED, w.rows(), w.cols(), dst);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.pairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.pairs;
        float[] scales = x.scales;
        int blocks = x.n / Activations.BLOCK;
        long scaleAt = at + (long) blocks * PIECES * P, dAt = scaleAt + (long) blocks * P;
        FloatVector acc = FloatVector.zero(F);
        IntVector block = IntVector.zero(I);
        ShortVector sum = ShortVector.zero(S);
        for (int i = 0, pieces = PIECES * blocks; i < pieces; i++) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(B2S, S, 0);
            sum = sum.add(v.mul(IntVector.broadcast(I, p[i]).reinterpretShape(S, 0)));
            if ((i & 7) == 7) { // a sub-block's eight pieces are in
                int blk = i >>> 4;
                // Each row's two 16-bit lanes to one 32-bit lane, times its scale.
                IntVector scale = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(S2I, I, 0);
                scale = (i & 8) == 0 ? scale.lanewise(LSHL, 24).lanewise(ASHR, 24) : scale.lanewise(ASHR, 8);
                block = block.add(widen(sum).mul(scale));
                sum = ShortVector.zero(S);
                if ((i & 8) != 0) { // and the block's second
                    FloatVector d = FloatVector.fromMemorySegment(F, w, dAt + (long) (blk / BLOCKS) * 4 * ROWS, LITTLE_ENDIAN);
                    acc = ((FloatVector) block.convertShape(I2F, F, 0)).fma(d.mul(scales[blk]), acc);
                    block = IntVector.zero(I);
                }
            }
        }
        acc.intoArray(out, o);
    }

    /**
     * The ROWS rows of the group at byte {@code at} times every vector of x, in integers four vectors at a time ({@link
     * IntBatch#bytes}: runs of eight pieces are the 16-value sub-blocks), each vector's sub-block sums then widened,
     * scaled and converted as {@link #dot} does.
     */
    private static void batch(MemorySegment w, long at, Activations x, float[] out, int o, int stride) {
        int blocks = x.n / Activations.BLOCK;
        IntBatch.Scratch s = IntBatch.scratch().load(w, at, 2 * blocks);
        long scaleAt = at + (long) blocks * PIECES * P;
        s.copyShorts(w, scaleAt, blocks * ROWS); // per block, each row's two int8 scales
        s.copyFloats(w, scaleAt + (long) blocks * P, blocks / BLOCKS * ROWS); // per super-block, each row's d
        IntBatch.run(s, 2 * blocks, false, x, finish, out, o, stride);
    }

    /** Not final: see {@link IntBatch#finish}. */
    @SuppressWarnings("FieldMayBeFinal")
    private static MethodHandle finish = IntBatch.finish(MethodHandles.lookup());

    /** {@link IntBatch#FINISH}: the sums converted and scaled as {@link #dot} does. */
    private static void finish2(IntBatch.Scratch s, int t, Activations x, int b, boolean second, float[] out, int o, int stride) {
        int blocks = x.n / Activations.BLOCK, b0 = b * blocks, b1 = b0 + blocks;
        float[] scales = x.scales;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int blk = 0; blk < blocks; blk++) {
            IntVector both = (IntVector) ShortVector.fromArray(SH, s.shorts, blk * ROWS).convertShape(S2I, I, 0);
            IntVector scale0 = both.lanewise(LSHL, 24).lanewise(ASHR, 24), scale1 = both.lanewise(ASHR, 8);
            FloatVector d = FloatVector.fromArray(F, s.floats, blk / BLOCKS * ROWS);
            IntVector block0 = widen(IntBatch.sums(s, 2 * blk, t)).mul(scale0).add(widen(IntBatch.sums(s, 2 * blk + 1, t)).mul(scale1));
            IntVector block1 = widen(IntBatch.sums(s, 2 * blk, t + 1)).mul(scale0).add(widen(IntBatch.sums(s, 2 * blk + 1, t + 1)).mul(scale1));
            acc0 = ((FloatVector) block0.convertShape(I2F, F, 0)).fma(d.mul(scales[b0 + blk]), acc0);
            acc1 = ((FloatVector) block1.convertShape(I2F, F, 0)).fma(d.mul(scales[b1 + blk]), acc1);
        }
        acc0.intoArray(out, o);
        if (second) acc1.intoArray(out, o + stride);
    }

    /** Each row's two 16-bit lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none). */
    private static IntVector widen(ShortVector sums) {
        IntVector pair = sums.reinterpretAsInts();
        return pair.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pair.lanewise(ASHR, 16));
    }

    @Override
    public boolean rowsExact() {
        return true;
    }
}
