package dev.herd.kernel;

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
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * Q4_0 weights repacked at load time ({@link GgmlType#Q4_0_INTERLEAVED}) in groups of {@link #ROWS} rows (see {@link
 * InterleavedKernel}), the way llama.cpp repacks Q4_0 for its CPU kernels. A group holds first, for each 32-column
 * block and c = 0..7, a piece of P = 2 x ROWS bytes: bytes 2c and 2c+1 of each row's block in row order (low nibbles:
 * elements 2c, 2c+1; high nibbles: 2c+16, 2c+17); then each block's ROWS fp16 scales. So the pieces follow each
 * other at a fixed stride and the dot product is one flat loop over them, whose body is small. (Eight pieces written
 * out per block parse into ~30,000 nodes at 512 bits, past C2's inlining budget; the calls it then inlines late
 * sometimes lose their vector type, and every vector gets boxed.) C2 does not hoist the segment's bounds check out of
 * this loop: it leaves the inner loop of its range-check loop nest at every block end (see docs/performance.md).
 *
 * <p>Decoding, a piece widened to 16-bit lanes is multiplied by a pair of activations broadcast as one int, so every
 * lane pair belongs to one row. Nibbles are taken as 0..15 and the offset of 8 is subtracted once per block through
 * the block's activation sum; 16 products of at most 15 x 127 fit a 16-bit lane, so a whole block accumulates in
 * 16-bit lanes (low and high nibbles apart: two add chains) and needs one pairwise widening.
 *
 * <p>Batches take the same integer path, four vectors per pass over a group ({@link IntBatch}), and every row of a
 * batch equals the row computed alone.
 */
final class Q4InterleavedKernel extends InterleavedKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes();
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, c = (e % 16) / 2;
        float d = Float.float16ToFloat(w.data().get(Kernels.F16, group + (long) (w.cols() / Activations.BLOCK * 8 + blk) * P + 2 * r));
        int packed = w.data().get(BYTE, group + (long) (blk * 8 + c) * P + 2 * r + (e % 2)) & 0xff;
        return d * ((e < 16 ? packed & 15 : packed >>> 4) - 8);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.nibblePairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            long at = g / ROWS * groupBytes;
            if (x.batch == 1) dot(w.data(), at, x, out, o);
            else batch(w.data(), at, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int blocks = x.n / Activations.BLOCK;
        int[] p = x.nibblePairs, sums8 = x.sums8;
        float[] scales = x.scales;
        long scaleAt = at + (long) blocks * 8 * P;
        FloatVector acc = FloatVector.zero(F);
        ShortVector lo = ShortVector.zero(S), hi = lo;
        for (int i = 0, pieces = 8 * blocks; i < pieces; i++) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
            lo = lo.add(v.and((short) 15).mul(IntVector.broadcast(I, p[2 * i]).reinterpretAsShorts()));
            hi = hi.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretAsShorts()));
            if ((i & 7) == 7) { // the block's eight pieces are in
                int blk = i >>> 3;
                FloatVector d = scale(w, scaleAt, blk);
                acc = widen(lo.add(hi), sums8[blk]).fma(d.mul(scales[blk]), acc);
                lo = ShortVector.zero(S);
                hi = lo;
            }
        }
        acc.intoArray(out, o);
    }

    /**
     * The ROWS rows of the group at byte {@code at} times every vector of x, in integers four vectors at a time ({@link
     * IntBatch}), each vector's block sums then converted and scaled as {@link #dot} does.
     */
    private static void batch(MemorySegment w, long at, Activations x, float[] out, int o, int stride) {
        int blocks = x.n / Activations.BLOCK;
        IntBatch.Scratch s = IntBatch.scratch().load(w, at, blocks);
        float[] d = s.floats(blocks * ROWS);
        long scaleAt = at + (long) blocks * 8 * P;
        for (int blk = 0; blk < blocks; blk++) scale(w, scaleAt, blk).intoArray(d, blk * ROWS);
        IntBatch.run(s, blocks, true, x, finish, out, o, stride);
    }

    /** Not final: see {@link IntBatch#finish}. */
    @SuppressWarnings("FieldMayBeFinal")
    private static MethodHandle finish = IntBatch.finish(MethodHandles.lookup());

    /** {@link IntBatch#FINISH}: the sums converted and scaled as {@link #dot} does. */
    private static void finish2(IntBatch.Scratch s, int t, Activations x, int b, boolean second, float[] out, int o, int stride) {
        int blocks = x.n / Activations.BLOCK, b0 = b * blocks, b1 = b0 + blocks;
        int[] sums8 = x.sums8;
        float[] scales = x.scales, d = s.floats;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int blk = 0; blk < blocks; blk++) {
            FloatVector dk = FloatVector.fromArray(F, d, blk * ROWS);
            acc0 = widen(IntBatch.sums(s, blk, t), sums8[b0 + blk]).fma(dk.mul(scales[b0 + blk]), acc0);
            acc1 = widen(IntBatch.sums(s, blk, t + 1), sums8[b1 + blk]).fma(dk.mul(scales[b1 + blk]), acc1);
        }
        acc0.intoArray(out, o);
        if (second) acc1.intoArray(out, o + stride);
    }

    /** A block's sums (16-bit lanes) as floats: each row's two lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none), minus 8 x sum(x). */
    private static FloatVector widen(ShortVector sums, int sum8) {
        IntVector pair = sums.reinterpretAsInts();
        return (FloatVector) pair.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pair.lanewise(ASHR, 16)).sub(sum8).convertShape(I2F, F, 0);
    }

    /** Block blk's ROWS fp16 scales as floats, converted with integer operations (exact for zero and subnormals). */
    private static FloatVector scale(MemorySegment w, long scaleAt, int blk) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
        return ((FloatVector) h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretShape(F, 0)).mul(F16_BIAS);
    }

    @Override
    public boolean rowsExact() {
        return true;
    }
}
