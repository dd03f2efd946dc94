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
import java.util.Arrays;

import static java.nio.ByteOrder.LITTLE_ENDIAN;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_S2I;

/**
 * Q4_0 weights repacked at load time ({@link GgmlType#Q4_0_INTERLEAVED}) so that one register holds {@link #ROWS}
 * rows, the way llama.cpp repacks Q4_0 for its CPU kernels. ROWS follows the vector width: a register of 16-bit
 * lanes holds two per row, so 4 rows at 128 bits, 8 at 256, 16 at 512 (the layout is made at load, on the machine
 * that computes, so each node of a cluster may use its own).
 *
 * <p>A group of ROWS rows takes the bytes those rows take in the file: first, for each 32-column block and c = 0..7,
 * a piece of P = 2 x ROWS bytes holding bytes 2c and 2c+1 of each row's block in row order (low nibbles: elements
 * 2c, 2c+1; high nibbles: 2c+16, 2c+17); then each block's ROWS fp16 scales. So the pieces follow each other at a
 * fixed stride and the dot product is one flat loop over them: C2 hoists every bounds check out of it, and its body
 * is small. (Eight pieces written out per block parse into ~30,000 nodes at 512 bits, past C2's inlining budget; the
 * calls it then inlines late sometimes lose their vector type, and every vector gets boxed.)
 *
 * <p>Decoding, a piece widened to 16-bit lanes is multiplied by a pair of activations broadcast as one int, so every
 * lane pair belongs to one row. Nibbles are taken as 0..15 and the offset of 8 is subtracted once per block through
 * the block's activation sum; 16 products of at most 15 x 127 fit a 16-bit lane, so a whole block accumulates in
 * 16-bit lanes and needs one pairwise widening, and the result is already one float per row: no horizontal sum.
 * Batches expand a group to floats column by column (ROWS rows per register) and multiply broadcast activations.
 */
final class Q4InterleavedKernel implements Kernel {
    /** Floats per register: rows per group. */
    static final int ROWS = Lanes.F.length();
    /** Bytes per piece, and shorts per register (one piece widened). */
    static final int P = 2 * ROWS;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorWidth.HALF);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorWidth.HALF);
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorWidth.SHAPE);
    private static final VectorSpecies<Float> F = Lanes.F;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LITTLE_ENDIAN);
    /** fp16 bits placed in a float: sign, exponent and mantissa; the exponent bias (15 -> 127) is the 2^112 factor. */
    private static final int SIGN = 0x80000000, MAGNITUDE = 0x0fffe000;
    private static final float F16_BIAS = 0x1p112f;

    /** Columns per tile of the batch path: 256 columns of a group expanded to floats take ROWS KiB. */
    private static final int TILE = 256;
    /** Per thread: a tile of a group expanded to floats, and the partial sums (ROWS per batch vector). */
    private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[][]{new float[ROWS * TILE], new float[0]});

    /**
     * Writes Q4_0 tensor {@code w} (rows a multiple of ROWS) in this layout to {@code dst}, which may be w's own
     * memory: each group is staged in a small buffer first.
     */
    static Tensor repack(Tensor w, MemorySegment dst) {
        if (w.type() != GgmlType.Q4_0 || w.rows() % ROWS != 0) throw new IllegalArgumentException(w.name() + ": not Q4_0 with rows in groups of " + ROWS);
        int blocks = w.cols() / Activations.BLOCK, rowShorts = (int) w.rowBytes() / 2, blockShorts = Q4Kernel.BLOCK_BYTES / 2;
        long groupBytes = ROWS * w.rowBytes();
        // Every field is a whole number of 16-bit units (scale, byte pairs), so groups move as shorts.
        short[] from = new short[ROWS * rowShorts], to = new short[ROWS * rowShorts];
        for (int g = 0; g < w.rows() / ROWS; g++) {
            MemorySegment.copy(w.data(), SHORT, g * groupBytes, from, 0, from.length);
            for (int blk = 0; blk < blocks; blk++) {
                for (int r = 0; r < ROWS; r++) {
                    int in = r * rowShorts + blk * blockShorts;
                    to[(blocks * 8 + blk) * ROWS + r] = from[in];
                    for (int c = 0; c < 8; c++) to[(blk * 8 + c) * ROWS + r] = from[in + 1 + c];
                }
            }
            MemorySegment.copy(to, 0, dst, SHORT, g * groupBytes, to.length);
        }
        return new Tensor(w.name(), GgmlType.Q4_0_INTERLEAVED, w.rows(), w.cols(), dst);
    }

    /** Element (row, col) of a repacked tensor, for the odd reader that wants single rows (slow, scalar). */
    static float get(Tensor w, int row, int col) {
        long group = (row / ROWS) * ROWS * w.rowBytes();
        int r = row % ROWS, blk = col / Activations.BLOCK, e = col % Activations.BLOCK, c = (e % 16) / 2;
        float d = Float.float16ToFloat(w.data().get(Kernels.F16, group + (long) (w.cols() / Activations.BLOCK * 8 + blk) * P + 2 * r));
        int packed = w.data().get(BYTE, group + (long) (blk * 8 + c) * P + 2 * r + (e % 2)) & 0xff;
        return d * ((e < 16 ? packed & 15 : packed >>> 4) - 8);
    }

    /** rowFrom and rowTo must be multiples of ROWS (see {@link Kernels#split}). */
    @Override
    public void matmul(Tensor w, Activations x, float[] out, int outOffset, int outStride, int rowFrom, int rowTo) {
        if (w.cols() != x.n) throw new IllegalArgumentException(w.name() + ": " + w.cols() + " columns, vectors of " + x.n);
        if (rowFrom % ROWS != 0 || rowTo % ROWS != 0) throw new IllegalArgumentException(w.name() + ": rows " + rowFrom + ".." + rowTo + " cut a group of " + ROWS);
        if (x.pairs == null) throw new IllegalStateException(w.name() + ": the activations were not prepared for it (Activations.readBy)");
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
        int[] sums8 = x.sums8;
        int blocks = x.n / Activations.BLOCK;
        long scaleAt = at + (long) blocks * 8 * P;
        FloatVector acc = FloatVector.zero(F);
        ShortVector lo = ShortVector.zero(S), hi = lo;
        for (int i = 0, pieces = 8 * blocks; i < pieces; i++) {
            ShortVector v = (ShortVector) ByteVector.fromMemorySegment(B, w, at + (long) i * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_B2S, S, 0);
            lo = lo.add(v.and((short) 15).mul(IntVector.broadcast(I, p[2 * i]).reinterpretAsShorts()));
            hi = hi.add(v.lanewise(LSHR, 4).mul(IntVector.broadcast(I, p[2 * i + 1]).reinterpretAsShorts()));
            if ((i & 7) == 7) { // the block's eight pieces are in
                int blk = i >>> 3;
                // Each row's two 16-bit lanes to one 32-bit lane (x86 pmaddwd; the Vector API has none), minus 8 x sum(x).
                IntVector pair = lo.add(hi).reinterpretAsInts();
                IntVector sum = pair.lanewise(LSHL, 16).lanewise(ASHR, 16).add(pair.lanewise(ASHR, 16)).sub(sums8[blk]);
                // The ROWS fp16 scales, converted with integer operations (exact for zero and subnormals).
                IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, scaleAt + (long) blk * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                FloatVector d = h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretAsFloats().mul(F16_BIAS).mul(scales[blk]);
                acc = ((FloatVector) sum.convert(I2F, 0)).fma(d, acc);
                lo = ShortVector.zero(S);
                hi = lo;
            }
        }
        acc.intoArray(out, o);
    }

    /**
     * The ROWS rows of the group at byte {@code at} times every vector of the batch (the Q8_0-rounded values, as in
     * {@link RowKernel}), eight vectors per pass (a short last group is padded; see {@link Activations#interleaved}).
     * The group is expanded to floats one tile of columns at a time, one register per column; each column then
     * meets the eight vectors' broadcast values (eight FMA chains hide the FMA latency). Tiles keep the expanded
     * columns and the vectors' slices in L1; partial sums wait in a small array.
     */
    private static void batch(MemorySegment w, long at, Activations x, float[] out, int o, int stride) {
        int n = x.n, batch = x.batch, padded = (batch + 7) / 8 * 8;
        float[][] buffers = BUFFERS.get();
        if (buffers[1].length < ROWS * padded) buffers[1] = new float[ROWS * padded];
        float[] cols = buffers[0], sums = buffers[1], xs = x.interleaved;
        Arrays.fill(sums, 0, ROWS * padded, 0f);
        for (int c0 = 0; c0 < n; c0 += TILE) {
            int width = Math.min(n - c0, TILE);
            expand(w, at, n / Activations.BLOCK, c0 / Activations.BLOCK, width / Activations.BLOCK, cols);
            for (int b = 0; b < batch; b += 8) {
                int s0 = ROWS * b;
                FloatVector a0 = FloatVector.fromArray(F, sums, s0), a1 = FloatVector.fromArray(F, sums, s0 + ROWS),
                        a2 = FloatVector.fromArray(F, sums, s0 + 2 * ROWS), a3 = FloatVector.fromArray(F, sums, s0 + 3 * ROWS),
                        a4 = FloatVector.fromArray(F, sums, s0 + 4 * ROWS), a5 = FloatVector.fromArray(F, sums, s0 + 5 * ROWS),
                        a6 = FloatVector.fromArray(F, sums, s0 + 6 * ROWS), a7 = FloatVector.fromArray(F, sums, s0 + 7 * ROWS);
                int x0 = b * n + 8 * c0; // b is a multiple of 8: its group of 8 vectors starts at (b / 8) * n * 8
                for (int i = 0, j = x0; i < ROWS * width; i += ROWS, j += 8) {
                    FloatVector c = FloatVector.fromArray(F, cols, i);
                    a0 = c.fma(FloatVector.broadcast(F, xs[j]), a0);
                    a1 = c.fma(FloatVector.broadcast(F, xs[j + 1]), a1);
                    a2 = c.fma(FloatVector.broadcast(F, xs[j + 2]), a2);
                    a3 = c.fma(FloatVector.broadcast(F, xs[j + 3]), a3);
                    a4 = c.fma(FloatVector.broadcast(F, xs[j + 4]), a4);
                    a5 = c.fma(FloatVector.broadcast(F, xs[j + 5]), a5);
                    a6 = c.fma(FloatVector.broadcast(F, xs[j + 6]), a6);
                    a7 = c.fma(FloatVector.broadcast(F, xs[j + 7]), a7);
                }
                a0.intoArray(sums, s0);
                a1.intoArray(sums, s0 + ROWS);
                a2.intoArray(sums, s0 + 2 * ROWS);
                a3.intoArray(sums, s0 + 3 * ROWS);
                a4.intoArray(sums, s0 + 4 * ROWS);
                a5.intoArray(sums, s0 + 5 * ROWS);
                a6.intoArray(sums, s0 + 6 * ROWS);
                a7.intoArray(sums, s0 + 7 * ROWS);
            }
        }
        for (int b = 0; b < batch; b++) System.arraycopy(sums, ROWS * b, out, o + b * stride, ROWS);
    }

    /**
     * Blocks [first, first + count) of the group at byte {@code at} (of {@code blocks} blocks) as floats,
     * column-major: element (r, col) at ROWS * col + r, col counted from the first block.
     */
    private static void expand(MemorySegment w, long at, int blocks, int first, int count, float[] cols) {
        for (int k = 0; k < count; k++) {
            int blk = first + k;
            IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) (blocks * 8 + blk) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
            FloatVector d = h.lanewise(LSHL, 16).and(SIGN).or(h.lanewise(LSHL, 13).and(MAGNITUDE)).reinterpretAsFloats().mul(F16_BIAS);
            FloatVector shift = d.mul(-8f);
            int base = ROWS * k * Activations.BLOCK;
            for (int c = 0; c < 8; c++) {
                // Lane r: row r's bytes 2c (low byte) and 2c + 1 (high byte), i.e. four nibbles of elements
                // 2c, 2c+16 (byte 2c) and 2c+1, 2c+17 (byte 2c+1).
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, at + (long) (blk * 8 + c) * P, LITTLE_ENDIAN).convertShape(ZERO_EXTEND_S2I, I, 0);
                ((FloatVector) v.and(15).convert(I2F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c));
                ((FloatVector) v.lanewise(LSHR, 8).and(15).convert(I2F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c + 1));
                ((FloatVector) v.lanewise(LSHR, 4).and(15).convert(I2F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c + 16));
                ((FloatVector) v.lanewise(LSHR, 12).convert(I2F, 0)).fma(d, shift).intoArray(cols, base + ROWS * (2 * c + 17));
            }
        }
    }

    @Override
    public boolean needsQuantized() {
        return true;
    }
}
