package dev.herd.kernel;

import dev.herd.codec.Q4_1;
import dev.herd.codec.Q4_K;
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
 * Q4_K (and Q4_1) weights repacked at load time ({@link GgmlType#Q4_K_INTERLEAVED}) in groups of {@link #ROWS} rows (see {@link
 * InterleavedKernel}) into the shape of {@link Q4InterleavedKernel}'s: each 32-value sub-block becomes a block of
 * eight pieces with Q4_0's nibble order (levels 0..15), and the sub-block's 6-bit scale and min, times the
 * super-block's d and dmin, become two floats per row: x = step * level - min, as ggml dequantizes. A group holds
 * first every block's pieces, then per block the ROWS steps and the ROWS minima (24 bytes per 32 values where the
 * file takes 18; Q4_1's d and m are the step and the negated minimum, 24 where it takes 20). So the dot product is Q4_0's flat loop, whose compiled form keeps its vectors in registers (a
 * kernel over the file's super-blocks, nested loops of runs and sub-blocks, now and then compiled into code that
 * boxed vectors: docs/performance.md), with one more multiply-add per block for the minima, against the block's
 * activation sum.
 */
final class Q4KInterleavedKernel extends InterleavedKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes(), meta = group + (long) w.cols() / Activations.BLOCK * 8 * P;
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, c = (e % 16) / 2;
        int packed = w.data().get(BYTE, group + (long) (blk * 8 + c) * P + 2 * r + (e % 2)) & 0xff;
        float step = w.data().get(Kernels.F32, meta + (long) blk * 4 * P + 4L * r);
        float min = w.data().get(Kernels.F32, meta + (long) blk * 4 * P + 2 * P + 4L * r);
        return step * (e < 16 ? packed & 15 : packed >>> 4) + min;
    }

    /** {@code w} (Q4_K or Q4_1, rows in groups of ROWS) in this kernel's layout, written to {@code dst} (Q4_K_INTERLEAVED's size). */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows not in groups of " + ROWS);
        boolean k = w.type() == GgmlType.Q4_K;
        if (!k && w.type() != GgmlType.Q4_1) throw new IllegalArgumentException(w.name() + ": " + w.type() + " is not Q4_K or Q4_1");
        MemorySegment src = w.data();
        int sub = w.type().blockSize / Activations.BLOCK;
        int blocks = w.cols() / Activations.BLOCK, meta = blocks * 8 * P;
        long rowBytes = w.rowBytes(), groupBytes = ROWS * GgmlType.Q4_K_INTERLEAVED.bytes(w.cols());
        byte[] to = new byte[(int) groupBytes], block = new byte[w.type().blockBytes], pairs = new byte[16];
        MemorySegment out = MemorySegment.ofArray(to);
        for (int g = 0; g < w.rows() / ROWS; g++) {
            for (int r = 0; r < ROWS; r++) {
                for (int blk = 0; blk < blocks; blk++) {
                    long in = (g * ROWS + r) * rowBytes + blk / sub * (long) w.type().blockBytes;
                    int j = blk % sub;
                    if (j == 0) MemorySegment.copy(src, BYTE, in, block, 0, block.length); // a heap copy: byte reads at int offsets
                    if (k) Q4_K.nibblePairs(block, j, pairs);
                    else Q4_1.nibblePairs(block, pairs);
                    for (int e = 0; e < 16; e++) to[(blk * 8 + e / 2) * P + 2 * r + e % 2] = pairs[e];
                    out.set(Kernels.F32, meta + blk * 4L * P + 4L * r, k ? Q4_K.step(src, in, j) : Q4_1.d(src, in));
                    out.set(Kernels.F32, meta + blk * 4L * P + 2L * P + 4L * r, k ? -Q4_K.min(src, in, j) : Q4_1.m(src, in));
                }
            }
            MemorySegment.copy(to, 0, dst, BYTE, g * groupBytes, to.length);
        }
        return new Tensor(w.name(), k ? GgmlType.Q4_K_INTERLEAVED : GgmlType.Q4_1_INTERLEAVED, w.rows(), w.cols(), dst);
    }

    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        check(w, x, rowFrom, rowTo, x.nibblePairs);
        long groupBytes = ROWS * w.rowBytes();
        for (int g = rowFrom; g < rowTo; g += ROWS) {
            int o = outOffset + g - rowFrom;
            if (x.batch == 1) dot(w.data(), g / ROWS * groupBytes, x, out, o);
            else batch(w.data(), g / ROWS * groupBytes, x, out, o, outStride);
        }
    }

    /** The ROWS rows of the group at byte {@code at} times the first vector of x, into out[o..o+ROWS). */
    private static void dot(MemorySegment w, long at, Activations x, float[] out, int o) {
        int[] p = x.nibblePairs;
        float[] scales = x.scales;
        int[] sums8 = x.sums8;
        int blocks = x.n / Activations.BLOCK;
        long metaAt = at + (long) blocks * 8 * P;
        FloatVector acc = FloatVector.zero(F);
        ShortVector lo = ShortVector.zero(S), hi = lo;
        for (int i = 0, pieces = 8 * blocks; i < pieces; i++) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
            lo = lo.add(v.and((short) 15).mul(IntVector.broadcast(I, p[2 * i]).reinterpretShape(S, 0)));
            hi = hi.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretShape(S, 0)));
            if ((i & 7) == 7) { // the block's eight pieces are in
                int blk = i >>> 3;
                // step * sum(level q) + min * sum(q) over the block's int8 activations q, times their scale.
                FloatVector step = FloatVector.fromMemorySegment(F, w, metaAt + (long) blk * 4 * P, LITTLE_ENDIAN).mul(scales[blk]);
                FloatVector min = FloatVector.fromMemorySegment(F, w, metaAt + (long) blk * 4 * P + 2 * P, LITTLE_ENDIAN).mul(scales[blk] * (sums8[blk] * 0.125f));
                acc = widen(lo.add(hi)).fma(step, acc.add(min));
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
        s.copyFloats(w, at + (long) blocks * 8 * P, blocks * 2 * ROWS); // per block the ROWS steps, then the ROWS minima
        IntBatch.run(s, blocks, true, x, finish, out, o, stride);
    }

    /** Not final: see {@link IntBatch#finish}. */
    @SuppressWarnings("FieldMayBeFinal")
    private static MethodHandle finish = IntBatch.finish(MethodHandles.lookup());

    /** {@link IntBatch#FINISH}: the sums converted and scaled as {@link #dot} does. */
    private static void finish2(IntBatch.Scratch s, int t, Activations x, int b, boolean second, float[] out, int o, int stride) {
        int blocks = x.n / Activations.BLOCK, b0 = b * blocks, b1 = b0 + blocks;
        int[] sums8 = x.sums8;
        float[] scales = x.scales, meta = s.floats;
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0;
        for (int blk = 0; blk < blocks; blk++) {
            FloatVector step = FloatVector.fromArray(F, meta, blk * 2 * ROWS), min = FloatVector.fromArray(F, meta, blk * 2 * ROWS + ROWS);
            acc0 = widen(IntBatch.sums(s, blk, t)).fma(step.mul(scales[b0 + blk]), acc0.add(min.mul(scales[b0 + blk] * (sums8[b0 + blk] * 0.125f))));
            acc1 = widen(IntBatch.sums(s, blk, t + 1)).fma(step.mul(scales[b1 + blk]), acc1.add(min.mul(scales[b1 + blk] * (sums8[b1 + blk] * 0.125f))));
        }
        acc0.intoArray(out, o);
        if (second) acc1.intoArray(out, o + stride);
    }

    /** A block's sums (16-bit lanes) as floats: each row's two lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none). */
    private static FloatVector widen(ShortVector sums) {
        IntVector pair = sums.reinterpretAsInts();
        return (FloatVector) pair.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pair.lanewise(ASHR, 16)).convertShape(I2F, F, 0);
    }

    @Override
    public boolean rowsExact() {
        return true;
    }
}
